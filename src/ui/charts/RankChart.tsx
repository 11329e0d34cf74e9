import { useMemo, useState, type ReactNode } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { METHODS } from '../../methods/registry';
import type { RunView } from '../state/runStore';
import { CHART_HEIGHT, ChartCard, legendOf } from './MetricCharts';
import { decadeTicks, formatNumber, latestSpectrum, seriesKey, spectrumRows } from './series';

/** The layers some run tracked, most tracked first. */
function trackedLayers(runs: RunView[]): string[] {
  const count = new Map<string, number>();
  for (const run of runs) {
    const layers = new Set(run.spectra.map((s) => s.spectrum.module));
    for (const l of layers) count.set(l, (count.get(l) ?? 0) + 1);
  }
  return [...count.entries()].sort((a, b) => b[1] - a[1]).map(([l]) => l);
}

/** The rank the run's method can reach on the tracked layer (rows × cols), as the method itself says. */
function maxRankNote(run: RunView, spectrum: { module: string; rows: number; cols: number }): string {
  const method = METHODS[run.spec.method];
  const config = { ...method.defaults, ...(run.spec.methodConfig ?? {}) };
  const layer = { module: spectrum.module, out: spectrum.rows, in: spectrum.cols };
  const reach = method.maxRank(config, layer, [layer]);
  return reach < Math.min(spectrum.rows, spectrum.cols) ? `at most ${reach}` : 'up to full';
}

/**
 * The singular values of each run's update ΔW on one layer, largest first on a log scale, with
 * the ranks measured from them; refreshed as the worker reports new spectra.
 */
export function RankChart({ runs }: { runs: RunView[] }) {
  const layers = useMemo(() => trackedLayers(runs), [runs]);
  const [choice, setChoice] = useState('');
  const layer = layers.includes(choice) ? choice : layers[0];
  const shown = useMemo(
    () =>
      runs
        .map((run, i) => ({ run, key: seriesKey(i), latest: layer ? latestSpectrum(run.spectra, layer) : undefined }))
        .filter((x): x is typeof x & { latest: NonNullable<typeof x.latest> } => x.latest !== undefined),
    [runs, layer],
  );
  const { rows, floor, top } = useMemo(() => spectrumRows(shown.map((s) => ({ key: s.key, values: s.latest.spectrum.singularValues }))), [shown]);
  const ticks = useMemo(() => decadeTicks(floor, top), [floor, top]);
  const dims = shown[0]?.latest.spectrum;

  const picker =
    layers.length > 1 ? (
      <label className="inline-field">
        Layer{' '}
        <select value={layer} onChange={(e) => setChoice(e.target.value)} data-testid="rank-chart-layer">
          {layers.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
      </label>
    ) : null;

  const explain: ReactNode = layer ? (
    <>
      Each line is one run's update ΔW of layer <code>{layer}</code>
      {dims && ` (${dims.rows}×${dims.cols})`}: its singular values from largest to smallest, on a log scale. LoRA's drop to the floor
      after r, since B·A has rank r; RandLoRA's and full fine-tuning's stay up across the whole spectrum. Values under{' '}
      {formatNumber(floor, 1)} are drawn on the floor; hover for exact values.
    </>
  ) : (
    <>The singular values of each run's update ΔW on one layer, largest first on a log scale; they appear once a run has trained a few steps.</>
  );

  return (
    <ChartCard
      title="Rank of the update ΔW"
      explain={explain}
      testId="rank-chart"
      extra={picker}
      download={{ file: `rank-spectrum-${(layer ?? 'layer').replace(/[^A-Za-z0-9._-]+/g, '-')}`, legend: legendOf(shown.map((s) => s.run)) }}
    >
      {shown.length === 0 ? (
        <p className="muted chart-empty">No spectra yet: a run reports one every few steps (a linear probe has none, since it trains only the head).</p>
      ) : (
        <>
          <ResponsiveContainer width="100%" height={CHART_HEIGHT + 40}>
            <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 8 }}>
              <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
              <XAxis
                dataKey="x"
                type="number"
                domain={[1, 'dataMax']}
                allowDecimals={false}
                tick={{ fontSize: 12 }}
                label={{ value: 'index of singular value', position: 'insideBottomRight', offset: -2, fontSize: 12 }}
              />
              <YAxis
                scale="log"
                domain={[floor, ticks[ticks.length - 1]]}
                ticks={ticks}
                allowDataOverflow
                tick={{ fontSize: 12 }}
                width={56}
                tickFormatter={(v: number) => v.toExponential(0)}
              />
              <Tooltip
                labelFormatter={(label) => `σ${String(label)}`}
                formatter={(value, name, item) => {
                  const key = typeof item.dataKey === 'string' ? item.dataKey : '';
                  const exact = (item.payload as Record<string, number | null>)[`${key}_exact`];
                  return [exact === null || exact === undefined ? String(value) : exact.toExponential(3), String(name)];
                }}
              />
              <Legend itemSorter={null} />
              {shown.map(({ run, key }) => (
                <Line
                  key={run.spec.id}
                  dataKey={key}
                  name={run.spec.name}
                  stroke={run.color}
                  strokeWidth={2}
                  dot={rows.length <= 64 ? { r: 2 } : false}
                  isAnimationActive={false}
                  className="run-line"
                />
              ))}
            </LineChart>
          </ResponsiveContainer>
          <table className="data-table rank-table" data-testid="rank-table">
            <thead>
              <tr>
                <th>Run</th>
                <th title="Spectrum taken after this many steps">Step</th>
                <th title="Singular values above 1e-4 of the largest: the directions ΔW really uses">Numerical rank</th>
                <th title="exp of the entropy of the normalised singular values: how evenly the update spreads over directions">Effective rank</th>
                <th title="‖ΔW‖F² / ‖ΔW‖2²: how many directions carry the update's energy">Stable rank</th>
                <th>Method's limit</th>
              </tr>
            </thead>
            <tbody>
              {shown.map(({ run, latest }) => (
                <tr key={run.spec.id} data-testid="rank-row">
                  <td>
                    <span className="swatch" style={{ background: run.color }} aria-hidden="true" /> {run.spec.name}
                  </td>
                  <td>{latest.step}</td>
                  <td data-testid="rank-numerical">
                    {latest.spectrum.numericalRank} of {Math.min(latest.spectrum.rows, latest.spectrum.cols)}
                  </td>
                  <td>{latest.spectrum.effectiveRank.toFixed(1)}</td>
                  <td>{latest.spectrum.stableRank.toFixed(2)}</td>
                  <td className="muted">
                    {METHODS[run.spec.method].label}: {maxRankNote(run, latest.spectrum)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="explain">
            Numerical rank counts the directions the update uses at all; effective rank (entropy of the spectrum) and stable rank (energy over
            the largest direction) say how evenly it uses them.
          </p>
        </>
      )}
    </ChartCard>
  );
}
