import { Thumb } from '../data/Thumb';
import type { StripImage } from './tables';

/** Size in CSS pixels of a thumbnail in the strip. */
const STRIP_SIZE = 40;

/**
 * A row of small validation images to click; the chosen one is pressed. Images where the runs
 * disagree carry a ≠ mark (there the temperatures decide), and those the ensemble got wrong a red
 * corner, so the interesting ones are found at a glance.
 */
export function ImageStrip({ strip, chosen, onChoose, classLabel }: { strip: StripImage[]; chosen: number; onChoose: (row: number) => void; classLabel: (k: number) => string }) {
  return (
    <div className="ensemble-strip" role="group" aria-label="Validation images" data-testid="ensemble-strip">
      {strip.map((s) => (
        <button
          key={s.row}
          type="button"
          className={`ensemble-thumb${s.disagree ? ' disagree' : ''}${s.ensembleRight ? '' : ' wrong'}`}
          aria-pressed={s.row === chosen}
          onClick={() => onChoose(s.row)}
          title={`Validation image ${s.row + 1}: ${classLabel(s.label)}${s.disagree ? '; the runs disagree' : ''}${s.ensembleRight ? '' : '; the ensemble is wrong'}`}
          data-testid="ensemble-thumb"
          data-row={s.row}
          data-disagree={s.disagree}
        >
          <Thumb {...s.thumbnail} size={STRIP_SIZE} />
          {s.disagree && (
            <span className="ensemble-thumb-mark" aria-hidden="true">
              ≠
            </span>
          )}
        </button>
      ))}
    </div>
  );
}
