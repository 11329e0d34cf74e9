import type { ComposeOutcome } from '../../session/composeTypes';
import { formatNumber } from '../charts/series';
import { AccuracyTable } from './AccuracyTable';
import { cellColor, heatmapLayers } from './heatmap';
import { composeRows } from './tables';

/** A composition's learned coefficients as a heatmap (blocks grouped by layer × task vectors) and its accuracy table. */
export function ComposeView({ outcome }: { outcome: ComposeOutcome }) {
  const c = outcome.coefficients;
  const { layers, maxAbs } = heatmapLayers(c);
  return (
    <div className="combine-view" data-testid="compose-view">
      <p className="explain">
        Target: {outcome.trainImages} training images{outcome.kShot ? ` (${outcome.kShot} per class)` : ''}, scored on the {outcome.valImages} validation
        images.{' '}
        {outcome.head === 'zeroshot'
          ? 'Base, plain sum and composition share CLIP’s frozen zero-shot head (only λ train), so the rows differ only in the backbone; the base is CLIP zero-shot.'
          : outcome.head === 'zeroshot-init'
            ? 'Base, plain sum and composition each train CLIP’s zero-shot head by the same recipe, so the rows differ only in the backbone.'
            : 'Every model below gets a head trained by the same recipe, so the rows differ only in the backbone.'}
      </p>
      <AccuracyTable rows={composeRows(outcome)} testId="compose-accuracy" highlight="composed" />
      <figure className="chart" data-testid="compose-heatmap" data-tasks={c.taskVectors.length} data-blocks={c.blocks.length} data-groups={c.groups}>
        <figcaption>
          <h3>Learned coefficients λ</h3>
          <p className="explain">
            One coefficient per task vector and parameter tensor (block){c.groups > 1 ? `, split into K = ${c.groups} random groups (a cell shows their mean)` : ''}, started at 0:
            red adds that run's change to the tensor, blue subtracts it; the largest |λ| is {formatNumber(maxAbs)}. Rows are grouped by layer.
          </p>
        </figcaption>
        <div className="table-scroll heatmap-scroll">
          <table className="heatmap">
            <thead>
              <tr>
                <th>Block</th>
                {c.taskVectors.map((t) => (
                  <th key={t} className="heatmap-task">
                    {t}
                  </th>
                ))}
              </tr>
            </thead>
            {layers.map((l) => (
              <tbody key={l.layer} data-testid="heatmap-layer" data-layer={l.layer}>
                <tr>
                  <th colSpan={c.taskVectors.length + 1} className="heatmap-layer">
                    {l.layer || '(model)'}
                  </th>
                </tr>
                {l.blocks.map((b) => (
                  <tr key={b.block}>
                    <th className="heatmap-block" title={b.block}>
                      {b.short}
                    </th>
                    {b.cells.map((cell, t) => (
                      <td
                        key={t}
                        data-testid="heatmap-cell"
                        data-value={cell.mean}
                        style={{ background: cellColor(cell.mean, maxAbs) }}
                        title={`${c.taskVectors[t]} · ${b.block}: λ = ${cell.groups.map((v) => formatNumber(v)).join(', ')}`}
                      >
                        {formatNumber(cell.mean, 2)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            ))}
          </table>
        </div>
      </figure>
    </div>
  );
}
