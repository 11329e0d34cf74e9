import { useMemo, useState } from 'react';
import { METHODS, METHOD_IDS, type MethodId } from '../../methods/registry';
import type { StudyCell, StudySpec } from '../../study/types';
import { useLabDevice } from '../lab';
import { useDataStore } from '../state/dataStore';
import { useMethodStore } from '../state/methodStore';
import { useModelStore } from '../state/modelStore';
import { formatLr } from '../runs/specs';
import { formatInt } from '../model/format';
import { countsFromEstimates, parseKShots, parseNumberList } from './newStudy';
import { useEstimates } from '../method/useEstimates';
import { methodLabel, STUDY_LR, type PageStudy } from './pageStudy';
import { planOnLoaded, startStudy } from './startStudy';
import { useStudyStore } from './studyStore';
import './study.css';

/** Methods a study compares: the adapters (full fine-tuning and the probe are its references). */
export const STUDY_METHODS = METHOD_IDS.filter((id) => METHODS[id].usesTargets);

type Reference = StudySpec['references'][number];

/** One line per method, budget and k-shot (seeds share their setting), references after. */
function planLines(cells: readonly StudyCell[]): StudyCell[] {
  const seen = new Set<string>();
  const out: StudyCell[] = [];
  for (const c of cells) {
    const k = `${c.method}|${c.budget}|${c.k_shot}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(c);
  }
  return out.sort((a, b) => Number(a.reference) - Number(b.reference));
}

/**
 * Methods × parameter budgets × seeds (× k-shot) on the loaded model and split: shows each
 * method's setting closest to each budget with the count it reaches, says which budgets are out of
 * reach, and queues every cell as a run in the lab's one queue.
 */
export function StudySetup() {
  const device = useLabDevice();
  const model = useModelStore((s) => s.info);
  const data = useDataStore((s) => s.info);
  // Re-plan when the method panel's targets, configs or training settings change.
  const methodState = useMethodStore();
  const augment = useDataStore((s) => s.augment);
  const study = useStudyStore((s) => s.study);
  // The same counts the comparison table shows: the lab's estimate of the probe (head) and full fine-tuning.
  const estimates = useEstimates();
  const counts = countsFromEstimates(estimates.data);
  const [methods, setMethods] = useState<MethodId[]>(['lora', 'randlora']);
  const [budgets, setBudgets] = useState('2000, 6000, 20000');
  const [seeds, setSeeds] = useState('0, 1, 2');
  const [kShots, setKShots] = useState('all');
  const [references, setReferences] = useState<Reference[]>(['full', 'probe']);
  const [includeHead, setIncludeHead] = useState(true);
  const [lrText, setLrText] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const zeroShotPossible = !!model?.text && !model.text.tokenizerError;
  const lr = useMemo(() => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(lrText)) {
      const x = Number(v);
      if (Number.isFinite(x) && x > 0 && x < 1) out[k] = x;
    }
    return out;
  }, [lrText]);

  const planned = useMemo((): { study?: PageStudy; error?: string } => {
    if (!model || !data || !counts) return {};
    try {
      const spec: StudySpec = {
        methods,
        budgets: parseNumberList(budgets, 'Budgets', { min: 1 }),
        seeds: parseNumberList(seeds, 'Seeds'),
        kShots: parseKShots(kShots),
        references: references.filter((r) => r !== 'zeroshot' || zeroShotPossible),
        includeHead,
      };
      if (!methods.length) throw new Error('Choose at least one method to study.');
      return { study: planOnLoaded(spec, counts, lr) };
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
    // methodState and augment feed planOnLoaded through the stores.
  }, [model, data, counts?.head, counts?.backbone, methods, budgets, seeds, kShots, references, includeHead, lr, zeroShotPossible, methodState, augment]);

  const ready = device.isSuccess && !!model && !!data;
  const plan = planned.study;
  const runCount = plan ? plan.cells.length : 0;

  async function start() {
    if (!plan) return;
    setError(undefined);
    setBusy(true);
    try {
      await startStudy(plan);
    } catch (e) {
      setError(`The study could not be queued: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  }

  const toggle = <T,>(list: T[], x: T, on: boolean) => (on ? [...list.filter((y) => y !== x), x] : list.filter((y) => y !== x));

  return (
    <div className="study-setup" data-testid="study-setup">
      <p className="explain">
        A study answers &ldquo;rank or parameter count?&rdquo; with error bars: each method at the setting closest to each budget of trainable
        values, several seeds each, on the loaded model, split and training settings; full fine-tuning and the linear probe run once per seed as
        references. The paired difference between two methods (same seed, same data) says whether the data separate them.
      </p>
      <fieldset className="study-fields">
        <legend>Methods</legend>
        {STUDY_METHODS.map((id) => (
          <label key={id} className="inline-field">
            <input type="checkbox" checked={methods.includes(id)} onChange={(e) => setMethods(toggle(methods, id, e.target.checked))} data-testid={`study-method-${id}`} />{' '}
            {METHODS[id].label}
          </label>
        ))}
      </fieldset>
      <div className="study-grid">
        <label>
          Budgets (trainable values)
          <input type="text" value={budgets} onChange={(e) => setBudgets(e.target.value)} data-testid="study-budgets" />
        </label>
        <label>
          Seeds
          <input type="text" value={seeds} onChange={(e) => setSeeds(e.target.value)} data-testid="study-seeds" />
        </label>
        <label>
          k-shot (images per class; &ldquo;all&rdquo; = whole split)
          <input type="text" value={kShots} onChange={(e) => setKShots(e.target.value)} data-testid="study-kshots" />
        </label>
      </div>
      <fieldset className="study-fields">
        <legend>References (once per seed)</legend>
        {(['full', 'probe', 'zeroshot'] as Reference[]).map((r) => (
          <label key={r} className="inline-field" title={r === 'zeroshot' && !zeroShotPossible ? 'Needs a CLIP model with its text tower and tokenizer' : undefined}>
            <input
              type="checkbox"
              checked={references.includes(r) && (r !== 'zeroshot' || zeroShotPossible)}
              disabled={r === 'zeroshot' && !zeroShotPossible}
              onChange={(e) => setReferences(toggle(references, r, e.target.checked))}
              data-testid={`study-ref-${r}`}
            />{' '}
            {methodLabel(r)}
            {r === 'zeroshot' && !zeroShotPossible && <span className="muted"> (CLIP with a text tower only)</span>}
          </label>
        ))}
      </fieldset>
      <label className="inline-field">
        <input type="checkbox" checked={includeHead} onChange={(e) => setIncludeHead(e.target.checked)} data-testid="study-include-head" /> Budgets include the
        classification head{plan ? ` (${formatInt(plan.headParams)} values)` : ''}, as the comparison table counts
      </label>
      <fieldset className="study-fields">
        <legend>Learning rates</legend>
        {[...methods, ...references.filter((r) => r !== 'zeroshot')].map((id) => (
          <label key={id} className="inline-field">
            {methodLabel(id)}{' '}
            <input
              type="text"
              size={7}
              inputMode="decimal"
              value={lrText[id] ?? formatLr(STUDY_LR[id as MethodId] ?? 1e-3)}
              onChange={(e) => setLrText({ ...lrText, [id]: e.target.value })}
              aria-label={`${methodLabel(id)} learning rate in the study`}
              data-testid={`study-lr-${id}`}
            />
          </label>
        ))}
      </fieldset>
      {!ready && <p className="muted">Load a model and a data set (and wait for the GPU) to plan a study on them.</p>}
      {planned.error && (
        <p className="notice notice-error" role="alert" data-testid="study-plan-error">
          {planned.error}
        </p>
      )}
      {plan && <PlanTable study={plan} />}
      <button type="button" onClick={() => void start()} disabled={!ready || !plan || busy || runCount === 0} data-testid="study-start">
        Start study ({runCount} run{runCount === 1 ? '' : 's'})
      </button>
      {study && <span className="muted"> Starting a new study replaces the current one on this page; its finished runs stay in the runs list.</span>}
      {error && (
        <p className="notice notice-error" role="alert" data-testid="study-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** The planned cells: setting and achieved count per method and budget, out-of-reach budgets said plainly. */
export function PlanTable({ study }: { study: PageStudy }) {
  const lines = planLines(study.cells);
  const perLine = study.spec.seeds.length;
  return (
    <div className="table-scroll">
      <table className="data-table study-plan" data-testid="study-plan">
        <caption className="muted">
          Trainable values {study.spec.includeHead ? `include the classification head (${formatInt(study.headParams)})` : 'exclude the classification head'}; each line runs
          once per seed ({study.spec.seeds.join(', ')}).
        </caption>
        <thead>
          <tr>
            <th>Method</th>
            <th>Budget</th>
            <th>k-shot</th>
            <th>Setting</th>
            <th>Trainable values</th>
            <th>Note</th>
          </tr>
        </thead>
        <tbody>
          {lines.map((c) => (
            <tr key={`${c.method}|${c.budget}|${c.k_shot}`} data-testid="study-plan-row" data-method={c.method} data-reachable={c.reachable} className={c.reachable ? undefined : 'unreachable'}>
              <td>{methodLabel(c.method)}</td>
              <td>{c.budget === null ? 'reference' : formatInt(c.budget)}</td>
              <td>{c.k_shot === null ? 'all' : c.k_shot}</td>
              <td>{c.setting || '—'}</td>
              <td data-testid="study-plan-params">{formatInt(c.trainable_params)}</td>
              <td>{!c.reachable ? <strong data-testid="study-plan-unreachable">Out of reach: {c.note ?? 'no setting comes close to this budget'} It runs at the nearest setting.</strong> : (c.note ?? '')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        {lines.length} line{lines.length === 1 ? '' : 's'} × {perLine} seed{perLine === 1 ? '' : 's'} = {study.cells.length} runs.
      </p>
    </div>
  );
}
