import { useEffect, useMemo, useState } from 'react';
import { CONTROLLER_DEFAULTS, type ControllerSettings } from '../../ensemble/controller';
import { COMPOSE_DEFAULTS, COMPOSE_FIELDS, type ComposeEstimate, type ComposeSettings } from '../../session/compose';
import { NumberField, wholeNumber } from '../data/NumberField';
import { formatMemory } from '../model/format';
import { useDataStore } from '../state/dataStore';
import { useModelStore } from '../state/modelStore';
import type { RunView } from '../state/runStore';
import { combinable, composeRefusal, ensembleRefusal } from './eligible';
import { ComposeHead, zeroShotUsable } from './ComposeHead';
import { zeroShotClassNames } from '../method/zeroShotSpec';
import { useMethodStore } from '../state/methodStore';
import type { ModelInfo } from '../../session/protocol';
import { estimateComposition, startCompose, startEnsemble } from './useCombine';
import { useCombineStore } from './combineStore';

/** WebGPU does not say how much memory the GPU has: the page allows this much by default, editable. */
export const DEFAULT_COMPOSE_LIMIT_MIB = 4096;

const positive = (what: string) => (v: number) => (v > 0 ? undefined : `${what} must be above 0.`);
const nonNegative = (what: string) => (v: number) => (v >= 0 ? undefined : `${what} must be 0 or more.`);

/**
 * "Ensemble these runs" and "Compose these runs": shown once two finished runs on the loaded model
 * have their merged models, with the runs to use (all by default) and each one's settings.
 */
export function CombinePanel({ runs }: { runs: RunView[] }) {
  const model = useModelStore((s) => s.info);
  const data = useDataStore((s) => s.info);
  const { runs: usable, left } = useMemo(() => combinable(runs, model?.source), [runs, model?.source]);
  const [unpicked, setUnpicked] = useState<ReadonlySet<string>>(new Set());
  const picked = usable.filter((r) => !unpicked.has(r.spec.id));
  const busy = useCombineStore((s) => s.order.some((id) => s.items[id].state === 'queued' || s.items[id].state === 'running'));

  if (usable.length < 2) {
    if (!usable.length && !left.length) return null;
    return (
      <section className="combine" data-testid="combine-panel" data-ready="false">
        <h3>Combine finished runs</h3>
        <p className="muted">
          Ensembling and composing appear once two runs on this model have finished with their merged models
          {usable.length ? ` (${usable.length} so far)` : ''}.
        </p>
        <LeftOut left={left} />
      </section>
    );
  }

  const toggle = (id: string, on: boolean) => {
    const next = new Set(unpicked);
    if (on) next.delete(id);
    else next.add(id);
    setUnpicked(next);
  };

  return (
    <section className="combine" data-testid="combine-panel" data-ready="true">
      <h3>Combine finished runs</h3>
      <p className="explain">
        Reuse what these runs learned: <strong>ensemble</strong> them (a small controller gives each run a temperature per image) or{' '}
        <strong>compose</strong> their task vectors τ = θ − θ₀ with learned coefficients per tensor (aTLAS) on a few-shot target. Both queue
        behind any run in training and appear in the runs list and the comparison table.
      </p>
      <fieldset className="combine-members">
        <legend>Runs to combine</legend>
        {usable.map((r) => (
          <label key={r.spec.id} className="combine-member">
            <input type="checkbox" checked={!unpicked.has(r.spec.id)} onChange={(e) => toggle(r.spec.id, e.target.checked)} data-testid="combine-member" data-run-id={r.spec.id} />{' '}
            <span className="swatch" style={{ background: r.color }} aria-hidden="true" /> {r.spec.name}
          </label>
        ))}
      </fieldset>
      <LeftOut left={left} />
      <div className="combine-forms">
        <EnsembleForm picked={picked} classNames={data?.classNames} busy={busy} />
        <ComposeForm picked={picked} busy={busy} model={model} classNames={data?.classNames} />
      </div>
    </section>
  );
}

function LeftOut({ left }: { left: ReturnType<typeof combinable>['left'] }) {
  if (!left.length) return null;
  return (
    <ul className="muted small combine-left" data-testid="combine-left">
      {left.map(({ run, why }) => (
        <li key={run.spec.id}>
          {run.spec.name} cannot take part: {why}
        </li>
      ))}
    </ul>
  );
}

function EnsembleForm({ picked, classNames, busy }: { picked: RunView[]; classNames?: string[]; busy: boolean }) {
  const [c, setC] = useState<ControllerSettings>({ ...CONTROLLER_DEFAULTS });
  const [kShot, setKShot] = useState<number | undefined>(undefined);
  const [error, setError] = useState<string>();
  const refusal = ensembleRefusal(picked, classNames);
  const set = (patch: Partial<ControllerSettings>) => setC((s) => ({ ...s, ...patch }));
  const start = async () => {
    setError(undefined);
    try {
      await startEnsemble(picked, { controller: c, kShot, batchSize: 32 });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <fieldset className="combine-form" data-testid="ensemble-form">
      <legend>Ensemble: adaptive temperatures</legend>
      <div className="combine-fields">
        <NumberField label="Controller width" value={c.width} onChange={(v) => v !== undefined && set({ width: v })} check={wholeNumber(1, 'The width')} testId="ensemble-width" help="Hidden units of the MLP that reads every run's features." />
        <NumberField label="Steps" value={c.steps} onChange={(v) => v !== undefined && set({ steps: v })} check={wholeNumber(0, 'Steps')} testId="ensemble-steps" />
        <NumberField label="Learning rate" value={c.lr} step={0.001} onChange={(v) => v !== undefined && set({ lr: v })} check={positive('The learning rate')} testId="ensemble-lr" />
        <NumberField label="Weight decay" value={c.weightDecay} step={0.01} onChange={(v) => v !== undefined && set({ weightDecay: v })} check={nonNegative('Weight decay')} testId="ensemble-wd" />
        <NumberField label="Images per class" value={kShot} allowEmpty placeholder="all" onChange={setKShot} check={wholeNumber(1, 'Images per class')} testId="ensemble-kshot" help="Train the controller on k per class of the training split; empty = all of it." />
        <NumberField label="Seed" value={c.seed} onChange={(v) => v !== undefined && set({ seed: v })} check={wholeNumber(0, 'The seed')} testId="ensemble-seed" />
      </div>
      <button type="button" disabled={!!refusal} onClick={() => void start()} data-testid="ensemble-start">
        Ensemble these runs ({picked.length})
      </button>
      {busy && <span className="muted small"> Queued work goes one at a time.</span>}
      {refusal && (
        <p className="muted small" data-testid="ensemble-refusal">
          {refusal}
        </p>
      )}
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}

function ComposeForm({ picked, busy, model, classNames }: { picked: RunView[]; busy: boolean; model?: ModelInfo; classNames?: string[] }) {
  const [numbers, setSettings] = useState<ComposeSettings>({ ...COMPOSE_DEFAULTS });
  // The head; a zero-shot one reads the method panel's templates and class names (as zero-shot runs do).
  const [chosenHead, setHead] = useState<ComposeSettings['head']>('linear');
  const head = zeroShotUsable(model) ? (chosenHead ?? 'linear') : 'linear';
  const templates = useMethodStore((s) => s.train.templates);
  const typed = useMethodStore((s) => s.train.classNames);
  const settings = useMemo<ComposeSettings>(
    () => (head === 'linear' ? { ...numbers, head } : { ...numbers, head, ...(templates ? { templates } : {}), classNames: zeroShotClassNames(classNames ?? [], typed) }),
    [numbers, head, templates, typed, classNames],
  );
  // The demo's target: a few labels per class, so the coefficients have something to learn.
  const [kShot, setKShot] = useState<number | undefined>(4);
  const [limitMiB, setLimitMiB] = useState(DEFAULT_COMPOSE_LIMIT_MIB);
  const [estimate, setEstimate] = useState<ComposeEstimate>();
  const [estimateError, setEstimateError] = useState<string>();
  const [error, setError] = useState<string>();
  const refusal = composeRefusal(picked);
  const choice = useMemo(() => ({ settings, kShot, limitBytes: Math.round(limitMiB * 2 ** 20) }), [settings, kShot, limitMiB]);
  const key = picked.map((r) => r.spec.id).join(',');
  useEffect(() => {
    if (refusal) return;
    let live = true;
    const timer = setTimeout(() => {
      estimateComposition(picked, choice).then(
        (e) => live && (setEstimate(e), setEstimateError(undefined)),
        (e: unknown) => live && (setEstimate(undefined), setEstimateError(e instanceof Error ? e.message : String(e))),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // `picked` is named by `key`: the same runs give the same estimate.
  }, [key, choice, refusal]);
  const start = async () => {
    setError(undefined);
    try {
      await startCompose(picked, choice);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const tooBig = estimate && !estimate.fits;
  return (
    <fieldset className="combine-form" data-testid="compose-form">
      <legend>Compose: task vectors with learned coefficients (aTLAS)</legend>
      <ComposeHead info={model} head={head} onChange={setHead} />
      <div className="combine-fields">
        {COMPOSE_FIELDS.map((f) => (
          <NumberField
            key={f.key}
            label={f.label}
            value={settings[f.key] as number | undefined}
            step={f.step}
            min={f.min}
            max={f.max}
            help={f.help}
            onChange={(v) => v !== undefined && setSettings((s) => ({ ...s, [f.key]: v }))}
            check={(v) =>
              f.integer && !Number.isInteger(v)
                ? `${f.label} must be a whole number.`
                : f.min !== undefined && v < f.min
                  ? `${f.label} must be at least ${f.min}.`
                  : f.max !== undefined && v > f.max
                    ? `${f.label} must be at most ${f.max}.`
                    : undefined
            }
            testId={`compose-${String(f.key)}`}
          />
        ))}
        <NumberField label="Target images per class" value={kShot} allowEmpty placeholder="all" onChange={setKShot} check={wholeNumber(1, 'Images per class')} testId="compose-kshot" help="The few-shot target: k per class of the training split (seeded); validated on the whole validation split." />
        <NumberField label="GPU memory to allow (MiB)" value={limitMiB} onChange={(v) => v !== undefined && setLimitMiB(v)} check={positive('The memory limit')} testId="compose-limit" help="WebGPU does not tell the page how much memory the GPU has; the composition is refused past this." />
      </div>
      <p className={tooBig ? 'notice notice-error' : 'muted small'} data-testid="compose-estimate" data-fits={estimate ? String(estimate.fits) : undefined}>
        {estimate
          ? `Needs about ${formatMemory(estimate.totalBytes)} of GPU memory (the ${picked.length} task vectors resident: ${formatMemory(estimate.taskVectorBytes)}) of ${formatMemory(estimate.limitBytes)} allowed.${estimate.fits ? '' : ` ${estimate.message ?? 'Drop a run or raise the limit.'}`}`
          : estimateError
            ? `The memory estimate failed: ${estimateError}`
            : 'Estimating GPU memory …'}
      </p>
      <button type="button" disabled={!!refusal || !estimate || !estimate.fits} onClick={() => void start()} data-testid="compose-start">
        Compose these runs ({picked.length})
      </button>
      {busy && <span className="muted small"> Queued work goes one at a time.</span>}
      {refusal && <p className="muted small">{refusal}</p>}
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}
