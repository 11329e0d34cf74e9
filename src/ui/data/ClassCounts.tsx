import { useState } from 'react';
import type { DatasetInfo } from '../../session/protocol';

const SHOWN = 20;

/**
 * Images per class as bars: the training part, the validation part, and (with k-shot or a size
 * limit) the images left out of both.
 */
export function ClassCounts({ info, kShot }: { info: DatasetInfo; kShot?: number }) {
  const [all, setAll] = useState(false);
  const max = Math.max(1, ...info.counts);
  const rows = info.classNames.map((name, c) => ({ name, c, total: info.counts[c], train: info.trainCounts[c], val: info.valCounts[c] }));
  const visible = all ? rows : rows.slice(0, SHOWN);
  const short = kShot ? rows.filter((r) => r.train < kShot) : [];
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return (
    <div data-testid="class-counts">
      <p className="data-totals" data-testid="split-totals">
        <span className="legend legend-train" /> Training <strong data-testid="train-total">{sum(info.trainCounts).toLocaleString('en-US')}</strong>
        <span className="legend legend-val" /> Validation <strong data-testid="val-total">{sum(info.valCounts).toLocaleString('en-US')}</strong>
        <span className="legend legend-unused" /> Unused {(sum(info.counts) - sum(info.trainCounts) - sum(info.valCounts)).toLocaleString('en-US')}
      </p>
      <table className="class-counts">
        <thead>
          <tr>
            <th>Class</th>
            <th className="bar-cell" aria-label="share of images" />
            <th className="num">Train</th>
            <th className="num">Val</th>
            <th className="num">Total</th>
          </tr>
        </thead>
        <tbody>
          {visible.map((r) => (
            <tr key={r.c} data-testid="class-count" data-class={r.name} data-train={r.train} data-val={r.val} data-total={r.total}>
              <td className="class-name" title={r.name}>
                {r.name}
              </td>
              <td className="bar-cell">
                <div className="count-bar" style={{ width: `${(100 * r.total) / max}%` }} title={`${r.train} training, ${r.val} validation, ${r.total - r.train - r.val} unused`}>
                  <span className="seg-train" style={{ flexGrow: r.train }} />
                  <span className="seg-val" style={{ flexGrow: r.val }} />
                  <span className="seg-unused" style={{ flexGrow: r.total - r.train - r.val }} />
                </div>
              </td>
              <td className="num">{r.train}</td>
              <td className="num">{r.val}</td>
              <td className="num">{r.total}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > SHOWN && (
        <button type="button" className="link-button" onClick={() => setAll(!all)}>
          {all ? `Show the first ${SHOWN} classes` : `Show all ${rows.length} classes`}
        </button>
      )}
      {short.length > 0 && (
        <p className="notice notice-warn" data-testid="kshot-short">
          {short.length === 1 ? 'One class has' : `${short.length} classes have`} fewer than {kShot} training images ({short.slice(0, 5).map((r) => `${r.name}: ${r.train}`).join(', ')}
          {short.length > 5 ? ', …' : ''}), so {short.length === 1 ? 'it trains' : 'they train'} on all they have. Lower k or the validation fraction for a balanced few-shot set.
        </p>
      )}
    </div>
  );
}
