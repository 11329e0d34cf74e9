import { useState } from 'react';
import type { DatasetInfo } from '../../session/protocol';
import { Thumb } from './Thumb';

const SHOWN = 10;

/** A few images of every class, one row per class, so a person sees what each label means. */
export function SampleGrid({ info }: { info: DatasetInfo }) {
  const [all, setAll] = useState(false);
  const byClass = info.classNames.map((name, c) => ({ name, c, samples: info.samples.filter((s) => s.label === c) }));
  const visible = all ? byClass : byClass.slice(0, SHOWN);
  return (
    <div className="sample-grid" data-testid="sample-grid">
      {visible.map((row) => (
        <div className="sample-row" key={row.c} data-testid="sample-row" data-class={row.name}>
          <span className="class-name" title={row.name}>
            {row.name}
          </span>
          <span className="sample-thumbs">
            {row.samples.map((s, i) => (
              <Thumb key={i} width={s.width} height={s.height} rgba={s.rgba} title={`${row.name} (${s.width}×${s.height})`} testId="sample-thumb" />
            ))}
          </span>
        </div>
      ))}
      {byClass.length > SHOWN && (
        <button type="button" className="link-button" onClick={() => setAll(!all)}>
          {all ? `Show the first ${SHOWN} classes` : `Show samples of all ${byClass.length} classes`}
        </button>
      )}
    </div>
  );
}
