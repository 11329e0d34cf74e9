import { useState, type RefObject } from 'react';
import { downloadBlob } from '../download';
import { composeChartSvg, pictureOf, svgToPng, type LegendEntry } from './chartExport';

/** PNG and SVG buttons for the chart drawn inside `target`. */
export function ChartDownloads({ target, title, file, legend }: { target: RefObject<HTMLElement | null>; title: string; file: string; legend: readonly LegendEntry[] }) {
  const [error, setError] = useState<string>();
  const save = async (kind: 'svg' | 'png') => {
    setError(undefined);
    const picture = target.current && pictureOf(target.current, title, legend);
    if (!picture) {
      setError('Nothing is drawn in this chart yet.');
      return;
    }
    try {
      const { svg, width, height } = composeChartSvg(picture);
      if (kind === 'svg') downloadBlob(svg, `${file}.svg`, 'image/svg+xml');
      else downloadBlob(await svgToPng(svg, width, height), `${file}.png`);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <span className="chart-downloads">
      <button type="button" onClick={() => void save('png')} data-testid="chart-png" aria-label={`Download ${title} as PNG`}>
        PNG
      </button>
      <button type="button" onClick={() => void save('svg')} data-testid="chart-svg" aria-label={`Download ${title} as SVG`}>
        SVG
      </button>
      {error && (
        <span className="muted" role="status">
          {error}
        </span>
      )}
    </span>
  );
}
