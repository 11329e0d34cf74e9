import { useEffect, useRef } from 'react';

/** An RGBA image drawn on a canvas, shown at `size` CSS pixels on its longer side (pixelated when enlarged). */
export function Thumb({ width, height, rgba, size = 48, title, testId }: { width: number; height: number; rgba: Uint8ClampedArray; size?: number; title?: string; testId?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    const g = canvas?.getContext('2d');
    if (!canvas || !g) return;
    canvas.width = width;
    canvas.height = height;
    g.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  }, [width, height, rgba]);
  const scale = size / Math.max(width, height);
  return (
    <canvas
      ref={ref}
      className={`thumb${scale > 1 ? ' thumb-pixelated' : ''}`}
      style={{ width: Math.round(width * scale), height: Math.round(height * scale) }}
      title={title}
      data-testid={testId}
    />
  );
}
