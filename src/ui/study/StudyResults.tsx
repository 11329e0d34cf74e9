import { useMemo, useState } from 'react';
import { CartesianGrid, ComposedChart, ErrorBar, ReferenceArea, ReferenceLine, ResponsiveContainer, Scatter, Tooltip, XAxis, YAxis } from 'recharts';
import type { StudyRow } from '../../study/types';
import { pairedDifference, verdict } from '../../study/stats';
import { studyCsv } from '../../study/csv';
import { studySvg } from '../../study/svg';
import { CHART_HEIGHT, ChartCard } from '../charts/MetricCharts';
import { formatNumber, formatPercent } from '../charts/series';
import { downloadBlob } from '../download';
import { formatInt } from '../model/format';
import { useRunStore } from '../state/runStore';
import { methodLabel, studyProgress, studyRows } from './pageStudy';
import { chartSeries, defaultPair, logDomain, logTicks, pairableMethods, studyPoints, type StudyPoint } from './results';
import { StudyStatus } from './StudyStatus';
import { useRunFocus, useStudyStore } from './studyStore';

/** A method's colour in every study chart and table. */
export const METHOD_COLOR: Record<string, string> = {
  lora: '#3257d6',
  randlora: '#d6453d',
  vera: '#2e9e5b',
  nola: '#8e44ad',
  dora: '#c27c0e',
  full: '#6b7a8f',
  probe: '#0e8fa3',
  zeroshot: '#b8377e',
};

const colorOf = (m: string) => METHOD_COLOR[m] ?? '#444';
const axisStyle = { fontSize: 12 };

function pm(s: { mean: number; sd: number }, format: (v: number) => string): string {
  if (!Number.isFinite(s.mean)) return '—';
  return Number.isFinite(s.sd) && s.sd > 0 ? `${format(s.mean)} ± ${format(s.sd)}` : format(s.mean);
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const pp = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)} pp`;

/** The study's results: accuracy and effective rank against trainable values, the table, paired differences, downloads. */
export function StudyResults() {
  const study = useStudyStore((s) => s.study);
  const eps = useStudyStore((s) => s.eps);
  const order = useRunStore((s) => s.order);
  const byId = useRunStore((s) => s.runs);
  const rows = useMemo(() => (study ? studyRows(studyProgress(study, order.map((id) => byId[id])), eps, study.rankLayer) : []), [study, order, byId, eps]);
  const kShots = useMemo(() => [...new Set(rows.map((r) => r.k_shot))], [rows]);
  const [kChoice, setKChoice] = useState<string>('');
  if (!study) return null;
  if (!rows.length) {
    return (
      <section className="results study-results" data-testid="study-results">
        <h3>Study</h3>
        <StudyStatus />
      </section>
    );
  }
  const k = kShots.find((x) => String(x) === kChoice) ?? kShots[0];
  const download = (what: 'json' | 'csv' | 'svg') => {
    if (what === 'json') downloadBlob(JSON.stringify({ study: study.spec, runs: rows }, null, 2), 'study.json', 'application/json');
    else if (what === 'csv') downloadBlob(studyCsv(rows), 'study.csv', 'text/csv');
    else downloadBlob(studySvg(rows, { kShot: k, labels: Object.fromEntries(rows.map((r) => [r.method, methodLabel(r.method)])) }), 'study.svg', 'image/svg+xml');
  };
  return (
    <section className="results study-results" data-testid="study-results">
      <div className="chart-title-row">
        <h3>Study</h3>
        <span className="chart-downloads">
          {(['json', 'csv', 'svg'] as const).map((w) => (
            <button key={w} type="button" className="link-button" onClick={() => download(w)} data-testid={`study-download-${w}`}>
              study.{w}
            </button>
          ))}
        </span>
      </div>
      <StudyStatus />
      <p className="explain">
        {rows.length} finished run{rows.length === 1 ? '' : 's'} of the current study. Trainable values{' '}
        {study.spec.includeHead ? 'include' : 'exclude'} the classification head. Click a point or a row to open its runs in the runs list.
      </p>
      {kShots.length > 1 && (
        <label className="inline-field">
          Few-shot setting{' '}
          <select value={String(k)} onChange={(e) => setKChoice(e.target.value)} data-testid="study-kshot-select">
            {kShots.map((x) => (
              <option key={String(x)} value={String(x)}>
                {x === null ? 'all data' : `${x}-shot`}
              </option>
            ))}
          </select>
        </label>
      )}
      <div className="charts study-charts">
        <PointsChart rows={rows} kShot={k} metric="accuracy" />
        <PointsChart rows={rows} kShot={k} metric="rank" />
      </div>
      <StudyTable rows={rows} />
      <PairedDifferences rows={rows} />
    </section>
  );
}

type Datum = StudyPoint & { x: number; y: number; sd: number };

function datum(p: StudyPoint, metric: 'accuracy' | 'rank'): Datum {
  const s = metric === 'accuracy' ? p.accuracy : p.rank;
  return { ...p, x: p.params, y: s.mean, sd: s.sd };
}

/** Mean ± sd per method against trainable values on a log axis; references as bands (accuracy) — every point opens its runs. */
function PointsChart({ rows, kShot, metric }: { rows: StudyRow[]; kShot: number | null; metric: 'accuracy' | 'rank' }) {
  const focus = useRunFocus((s) => s.focus);
  const { methods, references } = useMemo(() => chartSeries(rows, kShot), [rows, kShot]);
  const isAcc = metric === 'accuracy';
  const refs = references.map((p) => datum(p, metric)).filter((d) => Number.isFinite(d.y));
  // Accuracy draws references as bands across the chart; the rank chart as points at their own
  // count (full fine-tuning's ΔW rank beside the adapters'; the probe's ΔW is zero, rank 0).
  const data = [
    ...methods.map((m) => ({ method: m.method, points: m.points.map((p) => datum(p, metric)).filter((d) => Number.isFinite(d.y)) })),
    ...(isAcc ? [] : refs.filter((r) => r.x > 0).map((r) => ({ method: r.method, points: [r] }))),
  ];
  const domain = logDomain(data.flatMap((d) => d.points.map((p) => p.x)));
  const fmt = isAcc ? formatPercent : (v: number) => formatNumber(v);
  return (
    <ChartCard
      title={isAcc ? 'Accuracy against trainable values' : 'ΔW effective rank against trainable values'}
      testId={isAcc ? 'study-accuracy-chart' : 'study-rank-chart'}
      explain={
        isAcc
          ? 'Best validation accuracy, mean ± standard deviation over seeds, at each method’s achieved count (log scale); full fine-tuning and the probe are bands (mean ± sd), zero-shot a line.'
          : 'Effective rank of the update ΔW at the end of each run, averaged over the targeted layers (mean ± sd over seeds): LoRA’s stays under r, RandLoRA’s and full fine-tuning’s can fill the layer.'
      }
    >
      <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
        <ComposedChart margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis type="number" dataKey="x" scale="log" domain={domain} ticks={logTicks(domain)} allowDataOverflow tick={axisStyle} tickFormatter={(v: number) => formatNumber(v, 2)} name="trainable values" />
          <YAxis type="number" dataKey="y" tick={axisStyle} tickFormatter={(v: number) => (isAcc ? `${Math.round(v * 100)}%` : formatNumber(v, 2))} domain={isAcc ? ['auto', 'auto'] : [0, 'auto']} width={48} />
          <Tooltip
            cursor={false}
            content={({ active, payload }) => {
              const d = active ? (payload?.[0]?.payload as Datum | undefined) : undefined;
              if (!d) return null;
              return (
                <div className="study-tooltip">
                  <strong>
                    {methodLabel(d.method)} {d.setting}
                  </strong>
                  <div>
                    {isAcc ? 'accuracy' : 'effective rank'} {pm(isAcc ? d.accuracy : d.rank, fmt)}
                  </div>
                  <div>
                    {formatInt(Math.round(d.params))} values (budget {d.budget === null ? '—' : formatInt(d.budget)}), {d.n} seed{d.n === 1 ? '' : 's'}
                  </div>
                  <div className="muted">click to open its runs</div>
                </div>
              );
            }}
          />
          {isAcc &&
            refs.map((r) =>
              r.method === 'zeroshot' ? (
                <ReferenceLine key={r.method} y={r.y} stroke={colorOf(r.method)} strokeDasharray="4 3" label={{ value: methodLabel(r.method), fontSize: 11, position: 'insideTopLeft' }} />
              ) : (
                <ReferenceArea
                  key={r.method}
                  y1={r.y - r.sd}
                  y2={r.y + r.sd || r.y + 1e-4}
                  fill={colorOf(r.method)}
                  fillOpacity={0.15}
                  stroke={colorOf(r.method)}
                  strokeOpacity={0.4}
                  label={{ value: `${methodLabel(r.method)} ${pm(r.accuracy, pct)}`, fontSize: 11, position: 'insideTopLeft' }}
                  onClick={() => focus(r.runIds)}
                />
              ),
            )}
          {data.map((m) => (
            <Scatter
              key={m.method}
              name={methodLabel(m.method)}
              data={m.points}
              fill={colorOf(m.method)}
              line={{ stroke: colorOf(m.method), strokeWidth: 1.5 }}
              isAnimationActive={false}
              shape={(props: unknown) => {
                const p = props as { cx?: number; cy?: number; payload?: Datum };
                if (p.cx === undefined || p.cy === undefined || !p.payload) return <g />;
                const d = p.payload;
                return (
                  <circle
                    cx={p.cx}
                    cy={p.cy}
                    r={5}
                    fill={colorOf(d.method)}
                    stroke="#fff"
                    strokeWidth={1}
                    style={{ cursor: 'pointer' }}
                    data-testid="study-point"
                    data-method={d.method}
                    data-budget={d.budget ?? ''}
                    onClick={() => focus(d.runIds)}
                  >
                    <title>{`${methodLabel(d.method)} ${d.setting}: ${pm(isAcc ? d.accuracy : d.rank, fmt)} (n = ${d.n}, ${formatInt(Math.round(d.params))} values) — click to open its runs`}</title>
                  </circle>
                );
              }}
            >
              <ErrorBar dataKey="sd" direction="y" width={4} stroke={colorOf(m.method)} />
            </Scatter>
          ))}
        </ComposedChart>
      </ResponsiveContainer>
      <ul className="study-legend">
        {[...data.map((d) => d.method), ...(isAcc ? refs.map((r) => r.method) : [])].map((m) => (
          <li key={m}>
            <span className="swatch" style={{ background: colorOf(m) }} aria-hidden="true" /> {methodLabel(m)}
          </li>
        ))}
      </ul>
    </ChartCard>
  );
}

/** Mean ± sd per method, budget and k-shot, references last; a row opens its runs. */
function StudyTable({ rows }: { rows: StudyRow[] }) {
  const focus = useRunFocus((s) => s.focus);
  const eps = useStudyStore((s) => s.eps);
  const points = useMemo(() => studyPoints(rows).sort((a, b) => Number(a.budget === null) - Number(b.budget === null)), [rows]);
  return (
    <div className="table-scroll">
      <table className="data-table study-table" data-testid="study-table">
        <thead>
          <tr>
            <th>Method</th>
            <th>Budget</th>
            <th>k-shot</th>
            <th>Setting</th>
            <th>Trainable values</th>
            <th>Seeds</th>
            <th>Best val accuracy</th>
            <th>ΔW effective rank</th>
            <th>Intruders (ε = {eps.toFixed(2)})</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr
              key={`${p.method}|${p.budget}|${p.k_shot}`}
              data-testid="study-row"
              data-method={p.method}
              data-budget={p.budget ?? ''}
              className="clickable"
              onClick={() => focus(p.runIds)}
              title="Open these runs in the runs list"
            >
              <td>
                <span className="swatch" style={{ background: colorOf(p.method) }} aria-hidden="true" /> {methodLabel(p.method)}
              </td>
              <td>{p.budget === null ? 'reference' : formatInt(p.budget)}</td>
              <td>{p.k_shot === null ? 'all' : p.k_shot}</td>
              <td title={p.note}>
                {p.setting || '—'}
                {!p.reachable && <strong className="study-out-of-reach"> out of reach</strong>}
              </td>
              <td>{formatInt(Math.round(p.params))}</td>
              <td>{p.n}</td>
              <td data-testid="study-row-accuracy">{pm(p.accuracy, pct)}</td>
              <td>{pm(p.rank, (v) => v.toFixed(1))}</td>
              <td data-testid="study-row-intruders">{pm(p.intruders, (v) => v.toFixed(1))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** method A − method B per budget, paired by seed, with the 95% interval and the verdict in words. */
function PairedDifferences({ rows }: { rows: StudyRow[] }) {
  const methods = useMemo(() => pairableMethods(rows), [rows]);
  const chosen = useStudyStore((s) => s.pair);
  const setPair = useStudyStore((s) => s.setPair);
  const main = defaultPair(methods);
  if (!main) return null;
  const pairs: Array<[string, string]> = [main];
  if (chosen && methods.includes(chosen[0]) && methods.includes(chosen[1]) && chosen[0] !== chosen[1] && !(chosen[0] === main[0] && chosen[1] === main[1])) pairs.push(chosen);
  const other = chosen ?? main;
  return (
    <div className="study-paired" data-testid="study-paired">
      <h4>Paired differences</h4>
      <p className="explain">
        For each budget, the difference in best validation accuracy between two methods run with the same seed (same data and initial head), averaged
        over seeds, with a 95% t-interval. The interval excluding 0 is what lets the data separate the methods.
      </p>
      {methods.length > 2 && (
        <p className="inline-field">
          Compare also{' '}
          <select value={other[0]} onChange={(e) => setPair([e.target.value, other[1]])} data-testid="study-pair-a" aria-label="First method of the pair">
            {methods.map((m) => (
              <option key={m} value={m}>
                {methodLabel(m)}
              </option>
            ))}
          </select>{' '}
          −{' '}
          <select value={other[1]} onChange={(e) => setPair([other[0], e.target.value])} data-testid="study-pair-b" aria-label="Second method of the pair">
            {methods.map((m) => (
              <option key={m} value={m}>
                {methodLabel(m)}
              </option>
            ))}
          </select>
        </p>
      )}
      {pairs.map(([a, b]) => (
        <PairTable key={`${a}-${b}`} rows={rows} a={a} b={b} />
      ))}
    </div>
  );
}

function PairTable({ rows, a, b }: { rows: StudyRow[]; a: string; b: string }) {
  const diffs = useMemo(() => pairedDifference(rows, a, b), [rows, a, b]);
  const la = methodLabel(a);
  const lb = methodLabel(b);
  return (
    <div className="table-scroll">
      <table className="data-table" data-testid="study-pair-table" data-pair={`${a}-${b}`}>
        <caption>
          {la} − {lb}
        </caption>
        <thead>
          <tr>
            <th>Budget</th>
            <th>k-shot</th>
            <th>Paired seeds</th>
            <th>Mean difference</th>
            <th>95% interval</th>
            <th>Verdict</th>
          </tr>
        </thead>
        <tbody>
          {diffs.map((d) => (
            <tr key={`${d.budget}|${d.k_shot}`} data-testid="study-pair-row">
              <td>{d.budget === null ? '—' : formatInt(d.budget)}</td>
              <td>{d.k_shot === null ? 'all' : d.k_shot}</td>
              <td>{d.n}</td>
              <td>{Number.isFinite(d.mean) ? `${pp(d.mean)}${Number.isFinite(d.sd) ? ` (sd ${Math.abs(d.sd * 100).toFixed(1)})` : ''}` : '—'}</td>
              <td>{Number.isFinite(d.lo) && Number.isFinite(d.hi) ? `[${pp(d.lo)}, ${pp(d.hi)}]` : 'needs 2 seeds'}</td>
              <td data-testid="study-verdict">{verdict(d, la, lb)}</td>
            </tr>
          ))}
          {!diffs.length && (
            <tr>
              <td colSpan={6} className="muted">
                No budget has both {la} and {lb} with the same seed finished yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
