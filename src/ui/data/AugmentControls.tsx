import { useMemo, useState } from 'react';
import { augmentBoxes } from '../../engine/ops/preprocess';
import { augmentedInput } from '../../train/data';
import type { DatasetInfo } from '../../session/protocol';
import { augmentationOf, useDataStore } from '../state/dataStore';
import { NumberField } from './NumberField';
import { Thumb } from './Thumb';

const PREVIEW_SIZE = 56;
const VIEWS = 5;

type Sample = DatasetInfo['samples'][number];

/** A sample as the model would see it after one augmentation draw: the same CPU crop, resize and flip training uses. */
function augmentedView(s: Sample, box: ReturnType<typeof augmentBoxes>[number], size: number): Uint8ClampedArray {
  const rgb = new Uint8Array(s.width * s.height * 3);
  for (let p = 0; p < s.width * s.height; p++) rgb.set(s.rgba.subarray(p * 4, p * 4 + 3), p * 3);
  const view = augmentedInput({ data: rgb, width: s.width, height: s.height, channels: 3 }, box, { height: size, width: size });
  const out = new Uint8ClampedArray(size * size * 4);
  for (let p = 0; p < size * size; p++) {
    out.set(view.data.subarray(p * 3, p * 3 + 3), p * 4);
    out[p * 4 + 3] = 255;
  }
  return out;
}

/**
 * Random resized crop and horizontal flip for training batches (made on the CPU from each
 * image's working size, as torchvision does on a PIL image), with a preview of what they do to a
 * few samples.
 */
export function AugmentControls({ info }: { info?: DatasetInfo }) {
  const augment = useDataStore((s) => s.augment);
  const setAugment = useDataStore((s) => s.setAugment);
  const [draw, setDraw] = useState(0);
  const aug = augmentationOf(augment);

  // The first sample of up to four classes, each shown as it is and in a few augmented draws.
  const picks = useMemo(() => {
    if (!info) return [];
    const seen = new Set<number>();
    return info.samples.filter((s) => !seen.has(s.label) && seen.add(s.label)).slice(0, 4);
  }, [info]);
  // Keyed on the settings' values, not the object, so the preview is redrawn only when they change.
  const augKey = JSON.stringify(aug ?? null);
  const previews = useMemo(() => {
    const a = JSON.parse(augKey) as ReturnType<typeof augmentationOf> | null;
    if (!a) return [];
    return picks.map((s, i) => ({
      sample: s,
      views: Array.from({ length: VIEWS }, (_, v) => {
        const box = augmentBoxes(a, { height: s.height, width: s.width }, [i], 0, draw * VIEWS + v)[0];
        return { box, rgba: augmentedView(s, box, PREVIEW_SIZE) };
      }),
    }));
  }, [picks, augKey, draw]);

  const rangeCheck = (lo: number, hi: number, what: string) => (v: number) => (v >= lo && v <= hi ? undefined : `${what} must be between ${lo} and ${hi}.`);
  const [s0, s1] = augment.scale;
  const [r0, r1] = augment.ratio;
  return (
    <div className="augment" data-testid="augment-controls">
      <p className="muted">
        Applied to training batches only, drawn anew for each image at each step from the run’s seed; validation images are never augmented.
      </p>
      <div className="field-row">
        <div className="field">
          <label className="check">
            <input type="checkbox" checked={augment.crop} data-testid="augment-crop" onChange={(e) => setAugment({ crop: e.target.checked })} />
            Random resized crop
          </label>
          <p className="field-help">Trains on a random part of each image (its area and shape drawn from the ranges), resized to the model’s input.</p>
        </div>
        <div className="field">
          <label className="check">
            <input type="checkbox" checked={augment.flip} data-testid="augment-flip" onChange={(e) => setAugment({ flip: e.target.checked })} />
            Horizontal flip
          </label>
          <p className="field-help">Mirrors half the training images left to right; leave it off where left and right matter (digits, text).</p>
        </div>
      </div>
      {augment.crop && (
        <div className="field-row">
          <NumberField
            label="Area, min"
            value={s0}
            step={0.05}
            testId="crop-scale-min"
            check={(v) => rangeCheck(0.01, 1, 'The smallest area')(v) ?? (v > s1 ? `The smallest area must not exceed the largest (${s1}).` : undefined)}
            onChange={(v) => setAugment({ scale: [v!, s1] })}
            help="Smallest share of the image a crop keeps (torchvision: 0.08)."
          />
          <NumberField
            label="Area, max"
            value={s1}
            step={0.05}
            testId="crop-scale-max"
            check={(v) => rangeCheck(0.01, 1, 'The largest area')(v) ?? (v < s0 ? `The largest area must not be below the smallest (${s0}).` : undefined)}
            onChange={(v) => setAugment({ scale: [s0, v!] })}
          />
          <NumberField
            label="Aspect, min"
            value={Number(r0.toFixed(3))}
            step={0.05}
            testId="crop-ratio-min"
            check={(v) => rangeCheck(0.1, 10, 'The aspect ratio')(v) ?? (v > r1 ? `The smallest aspect ratio must not exceed the largest (${r1.toFixed(2)}).` : undefined)}
            onChange={(v) => setAugment({ ratio: [v!, r1] })}
            help="Width ÷ height of a crop (torchvision: 3/4 to 4/3)."
          />
          <NumberField
            label="Aspect, max"
            value={Number(r1.toFixed(3))}
            step={0.05}
            testId="crop-ratio-max"
            check={(v) => rangeCheck(0.1, 10, 'The aspect ratio')(v) ?? (v < r0 ? `The largest aspect ratio must not be below the smallest (${r0.toFixed(2)}).` : undefined)}
            onChange={(v) => setAugment({ ratio: [r0, v!] })}
          />
        </div>
      )}
      {aug && previews.length > 0 && (
        <div className="augment-preview" data-testid="augment-preview">
          <div className="augment-preview-head">
            <span className="muted">What training sees: each sample, then {VIEWS} random draws.</span>
            <button type="button" onClick={() => setDraw(draw + 1)} data-testid="augment-redraw">
              Draw again
            </button>
          </div>
          {previews.map((p, i) => (
            <div className="sample-row" key={i}>
              <span className="class-name">{info!.classNames[p.sample.label]}</span>
              <span className="sample-thumbs">
                <Thumb width={p.sample.width} height={p.sample.height} rgba={p.sample.rgba} size={PREVIEW_SIZE} title="original" />
                <span className="preview-arrow" aria-hidden>
                  →
                </span>
                {p.views.map((v, k) => (
                  <Thumb
                    key={k}
                    width={PREVIEW_SIZE}
                    height={PREVIEW_SIZE}
                    rgba={v.rgba}
                    size={PREVIEW_SIZE}
                    title={`crop ${v.box.width}×${v.box.height} at (${v.box.x}, ${v.box.y})${v.box.flip ? ', flipped' : ''}`}
                    testId="augment-view"
                  />
                ))}
              </span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
