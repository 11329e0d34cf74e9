import { METHODS, type MethodId } from '../../methods/registry';
import type { RunEstimate } from '../../session/protocol';
import { formatCount, formatInt, formatMemory, formatShare } from '../model/format';
import { rankSummary } from './rank';

/**
 * All six methods' costs side by side with the current settings: how many values each trains
 * against how much of each layer its update can change. That trade is what the comparison is about.
 */
export function CostTable({
  estimates,
  selected,
  modelParams,
  onSelect,
  updating,
}: {
  estimates: RunEstimate[];
  selected: MethodId;
  modelParams: number;
  onSelect: (m: MethodId) => void;
  updating: boolean;
}) {
  return (
    <table className="limits cost-table" data-testid="cost-table" aria-busy={updating}>
      <caption className="muted">
        Trainable parameters include the classification head. The update rank is what ΔW can reach in each targeted layer
        (out of min(in, out)). Memory is an estimate for one training step at this batch size. Click a row to choose its method.
      </caption>
      <thead>
        <tr>
          <th scope="col">Method</th>
          <th scope="col">Trainable parameters</th>
          <th scope="col">of the model</th>
          <th scope="col">Update rank per layer</th>
          <th scope="col">GPU memory</th>
        </tr>
      </thead>
      <tbody>
        {estimates.map((e) => {
          const rank = rankSummary(e);
          return (
            <tr
              key={e.method}
              className={e.method === selected ? 'selected' : undefined}
              data-testid="cost-row"
              data-method={e.method}
              data-params={e.trainableParams}
              data-memory={e.memoryBytes}
              data-rank={rank.text}
              onClick={() => onSelect(e.method)}
            >
              <th scope="row">{METHODS[e.method].label}</th>
              <td title={formatInt(e.trainableParams)}>{formatInt(e.trainableParams)}</td>
              <td>{formatShare(e.trainableParams, modelParams)}</td>
              <td>
                <span className="rank-bar" aria-hidden="true">
                  {rank.fraction > 0 && <span className={rank.full ? 'rank-bar-fill rank-full' : 'rank-bar-fill'} style={{ width: `${Math.round(rank.fraction * 100)}%` }} />}
                </span>
                {rank.text}
              </td>
              <td>{formatMemory(e.memoryBytes)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** One line for the selected method, e.g. "LoRA trains 2,378 values (9.8% of the model); its update can reach rank ≤ 8 of 32 per layer; about 2.8 MiB of GPU memory." */
export function costSentence(e: RunEstimate, modelParams: number): string {
  const rank = rankSummary(e);
  const count = e.trainableParams >= 1000 ? `${formatInt(e.trainableParams)} values (${formatCount(e.trainableParams)}, ` : `${formatInt(e.trainableParams)} values (`;
  const reach =
    rank.fraction === 0 ? `its update reaches no layer of the backbone (${rank.text.replace(/^none: /, '')})` : rank.full ? `its update can reach ${rank.text} in every ${METHODS[e.method].usesTargets ? 'targeted ' : ''}layer` : `its update can reach rank ${rank.text} per layer`;
  return `${METHODS[e.method].label} trains ${count}${formatShare(e.trainableParams, modelParams)} of the model); ${reach}; about ${formatMemory(e.memoryBytes)} of GPU memory.`;
}
