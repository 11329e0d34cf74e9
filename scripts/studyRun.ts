/**
 * The study CLI's pieces (scripts/study.ts is only its entry point, so other scripts can import
 * these without running it).
 *
 * Runs a study from the command line: methods × trainable-parameter budgets × seeds (× k-shot) on
 * one model and one data set, with full fine-tuning and the linear probe as references.
 *
 *   npm run study -- --model M --data D --methods lora,randlora,vera,nola --budgets 2000,6000,20000
 *     --seeds 0,1,2 [--k-shot 1,4] [--references full,probe|none] [--exclude-head] [--scale ratio|fixed]
 *     [--method-lr lora=5e-3,full=5e-4] [--set method.name=value] [--pair randlora,lora] [--plan-only]
 *     [--steps N --batch B --lr X --targets a,b …any other option of npm run train] --out DIR
 *
 * Every run validates on the same images: the train/validation split is seeded once for the study
 * (--split-seed N, default 0), and --seeds vary the training and the k-shot draw, as in the page.
 *
 * Budgets count what the comparison table counts: the method's values plus the classification
 * head (unless --exclude-head). Each method's setting closest to each budget is chosen
 * (src/study/plan.ts); the plan is printed first, with out-of-reach budgets named.
 *
 * Learning rates: --method-lr for a method by id; else --lr for the compared methods; else the
 * method's one-click comparison rate (LoRA and RandLoRA 5e-3, full fine-tuning 5e-4); else the
 * trainer's default. References (full, probe) never take --lr, since one rate does not suit both.
 *
 * Writes every run as npm run train does, in DIR/runs/<key>/ (metrics.jsonl, summary.json,
 * adapter/, merged/, and row.json once finished), then DIR/study.json ({ "runs": [ … ] }),
 * DIR/study.csv and DIR/study.svg, rewritten after each run. Run again with the same --out, it
 * skips runs whose row.json matches the cell and its settings, and redoes half-written ones.
 *
 * Exit codes: 0 every run finished (done or diverged), 1 some run failed, 2 bad usage.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { autotuneFromEnv } from '../src/engine/tuning/nodeAutotune';
import { nodeGpu } from '../src/gpu/node';
import { methodById, METHODS } from '../src/methods/registry';
import { DEFAULT_TARGETS } from '../src/models/names';
import { parseConfig } from '../src/models/spec';
import { isHeadKind, type HeadKind } from '../src/models/zeroShot';
import { planStudy, studyShape, type StudyShape } from '../src/study/plan';
import { studyCsv } from '../src/study/csv';
import { defaultPair, pairedDifference, summarise, verdict, type MeanSd } from '../src/study/stats';
import { studySvg } from '../src/study/svg';
import type { StudyCell, StudyReference, StudyRow, StudySpec } from '../src/study/types';
import { TRAIN_DEFAULTS } from '../src/train/trainer';
import { loadRunInputs, parseTrainArgs, trainLoaded, UsageError, type RunInputs } from './trainRun';

export const STUDY_USAGE =
  'usage: npm run study -- --model M --data D --methods lora,randlora --budgets 2000,6000,20000 --seeds 0,1,2 --out DIR\n' +
  '  [--k-shot 1,4] [--references full,probe|none] [--exclude-head] [--scale ratio|fixed] [--pair a,b]\n' +
  '  [--method-lr lora=5e-3,full=5e-4] [--set method.name=value] [--plan-only]\n' +
  '  [--steps N --batch B --lr X --targets a,b … any other option of npm run train but --method, --seed, --rank, --alpha, --out]';

export interface StudyArgs {
  model: string;
  data: string;
  out: string;
  spec: StudySpec;
  /** Options handed to every run, as npm run train takes them (no --method/--seed/--out). */
  trainFlags: string[];
  /** --lr: the compared methods' rate. */
  lr?: number;
  methodLr: Record<string, number>;
  /** --set method.name=value: base settings per method (the budget knob overrides its own). */
  sets: Record<string, Record<string, string>>;
  /** The pair whose difference is reported (a − b); default randlora − lora when both run. */
  pair?: [string, string];
  planOnly: boolean;
  head: HeadKind;
  targets?: string[];
}

const REFERENCES: readonly StudyReference[] = ['full', 'probe', 'zeroshot'];

function list(flag: string, v: string): string[] {
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new UsageError(`${flag} needs a comma-separated list, got ${JSON.stringify(v)}`);
  return items;
}

function numbers(flag: string, v: string, integer: boolean, min: number): number[] {
  return list(flag, v).map((s) => {
    const n = Number(s);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new UsageError(`${flag} takes ${integer ? 'whole numbers' : 'numbers'} of at least ${min}; ${JSON.stringify(s)} is not one`);
    return n;
  });
}

export function parseStudyArgs(argv: readonly string[]): StudyArgs {
  let model: string | undefined;
  let data: string | undefined;
  let out: string | undefined;
  let methods: string[] | undefined;
  let budgets: number[] | undefined;
  let seeds: number[] = [0];
  let kShots: Array<number | null> = [null];
  let references: StudyReference[] = ['full', 'probe'];
  let includeHead = true;
  let scale: 'ratio' | 'fixed' = 'ratio';
  let lr: number | undefined;
  let pair: [string, string] | undefined;
  let planOnly = false;
  let head: HeadKind = 'linear';
  let targets: string[] | undefined;
  const methodLr: Record<string, number> = {};
  const sets: Record<string, Record<string, string>> = {};
  const trainFlags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--model') model = next();
    else if (flag === '--data') data = next();
    else if (flag === '--out') out = next();
    else if (flag === '--methods') {
      methods = list(flag, next()).map((id) => {
        const m = methodById(id);
        if (!m.budget) throw new UsageError(`--methods takes methods with a budget knob (${Object.values(METHODS).filter((x) => x.budget).map((x) => x.id).join(', ')}); ${m.label} runs as a reference: --references ${id}`);
        return m.id;
      });
    } else if (flag === '--budgets') budgets = numbers(flag, next(), true, 1);
    else if (flag === '--seeds') seeds = numbers(flag, next(), true, 0);
    else if (flag === '--k-shot') kShots = list(flag, next()).map((s) => (s === 'all' ? null : numbers(flag, s, true, 1)[0]));
    else if (flag === '--references') {
      const v = next();
      references =
        v === 'none'
          ? []
          : list(flag, v).map((r) => {
              if (!(REFERENCES as readonly string[]).includes(r)) throw new UsageError(`--references takes ${REFERENCES.join(', ')} or none, got ${JSON.stringify(r)}`);
              return r as StudyReference;
            });
    } else if (flag === '--exclude-head') includeHead = false;
    else if (flag === '--scale') {
      const v = next();
      if (v !== 'ratio' && v !== 'fixed') throw new UsageError(`--scale is ratio or fixed, got ${JSON.stringify(v)}`);
      scale = v;
    } else if (flag === '--lr') lr = numbers(flag, next(), false, 0)[0];
    else if (flag === '--method-lr') {
      for (const item of list(flag, next())) {
        const [id, v] = item.split('=');
        const n = Number(v);
        if (!id || !(n > 0)) throw new UsageError(`--method-lr takes method=rate pairs, e.g. lora=5e-3,full=5e-4; got ${JSON.stringify(item)}`);
        methodLr[methodById(id).id] = n;
      }
    } else if (flag === '--set') {
      const v = next();
      const m = /^([a-z]+)\.([A-Za-z_][\w]*)=(.*)$/.exec(v);
      if (!m) throw new UsageError(`--set in a study names the method: --set nola.c=2 (method.name=value), got ${JSON.stringify(v)}`);
      (sets[methodById(m[1]).id] ??= {})[m[2]] = m[3];
    } else if (flag === '--pair') {
      const p = list(flag, next());
      if (p.length !== 2) throw new UsageError(`--pair takes two method ids, e.g. randlora,lora`);
      pair = [methodById(p[0]).id, methodById(p[1]).id];
    } else if (flag === '--plan-only') planOnly = true;
    else if (flag === '--method' || flag === '--seed' || flag === '--rank' || flag === '--alpha' || flag === '--resume' || flag === '--stop-after')
      throw new UsageError(`${flag} does not apply to a study: it sets each run's ${flag.slice(2)} itself (use --methods, --seeds, --budgets)`);
    else if (flag === '--help' || flag === '-h') throw new UsageError('');
    else {
      // Anything else is a run option; npm run train's parser checks it below.
      trainFlags.push(flag);
      if (flag === '--head') {
        const v = next();
        if (!isHeadKind(v)) throw new UsageError(`--head is linear, zeroshot or zeroshot-init, got ${JSON.stringify(v)}`);
        head = v;
        trainFlags.push(v);
      } else if (flag === '--targets') {
        const v = next();
        targets = list(flag, v);
        trainFlags.push(v);
      } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) trainFlags.push(next());
    }
  }
  if (!model) throw new UsageError('--model is required (a Hugging Face model folder or Hub id)');
  if (!data) throw new UsageError('--data is required (IDX files or one subfolder of images per class)');
  if (!out) throw new UsageError('--out is required: the study folder (run again with the same --out to resume)');
  if (!methods) throw new UsageError('--methods is required, e.g. --methods lora,randlora');
  if (!budgets) throw new UsageError('--budgets is required: trainable-parameter budgets, e.g. --budgets 2000,6000,20000');
  // A half-written run is redone from the start, so its runs need no checkpoints unless asked for.
  if (!trainFlags.includes('--checkpoint-every')) trainFlags.push('--checkpoint-every', '0');
  if (!trainFlags.includes('--checkpoint-seconds')) trainFlags.push('--checkpoint-seconds', '0');
  // Check the run options now, before anything loads.
  parseTrainArgs(['--model', model, '--data', data, '--method', methods[0], ...trainFlags]);
  if (pair) for (const m of pair) if (!methods.includes(m)) throw new UsageError(`--pair names ${m}, which is not in --methods`);
  return {
    model,
    data,
    out,
    spec: { methods, budgets, seeds, kShots, references, includeHead, scale },
    trainFlags,
    lr,
    methodLr,
    sets,
    pair,
    planOnly,
    head,
    targets,
  };
}

/** The folder of a cell under DIR/runs/. */
export function runFolder(key: string): string {
  return key.replace(/\|/g, '_');
}

/** The learning rate of a cell (see the header). */
function cellLr(a: StudyArgs, cell: StudyCell): number {
  const own = a.methodLr[cell.method];
  if (own !== undefined) return own;
  const method = cell.method === 'zeroshot' ? undefined : methodById(cell.method);
  if (!cell.reference && a.lr !== undefined) return a.lr;
  return method?.comparisonLr ?? TRAIN_DEFAULTS.lr;
}

/** The npm run train command line of a cell (kept in its folder, so the run can be repeated alone). */
export function cellArgv(a: StudyArgs, cell: StudyCell, out: string): string[] {
  const argv = ['--model', a.model, '--data', a.data, '--method', cell.method === 'zeroshot' ? 'probe' : cell.method, ...a.trainFlags];
  argv.push('--seed', String(cell.seed), '--lr', String(cellLr(a, cell)));
  // One train/validation split for the whole study (as the page's lab keeps): seeds vary the
  // training and the k-shot draw, never which images validate. --split-seed N picks another split.
  if (!a.trainFlags.includes('--split-seed')) argv.push('--split-seed', '0');
  if (cell.method === 'zeroshot') argv.push('--head', 'zeroshot', '--steps', '0');
  if (cell.k_shot !== null) argv.push('--k-shot', String(cell.k_shot));
  for (const [k, v] of Object.entries(cell.config)) argv.push('--set', `${k}=${String(v)}`);
  argv.push('--out', out);
  return argv;
}

interface FinishedRow {
  row: StudyRow;
  /** The cell's settings when it ran; a different one means the study changed and the run is redone. */
  fingerprint: string;
}

const fingerprintOf = (argv: readonly string[]) => JSON.stringify(argv.filter((_, i) => argv[i] !== '--out' && argv[i - 1] !== '--out'));

async function readFinished(dir: string): Promise<FinishedRow | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'row.json'), 'utf8')) as FinishedRow;
  } catch {
    return undefined;
  }
}

/** Written last, atomically: its presence is what makes a run finished. */
async function writeFinished(dir: string, f: FinishedRow): Promise<void> {
  const tmp = join(dir, 'row.json.tmp');
  await writeFile(tmp, `${JSON.stringify(f, null, 2)}\n`);
  await rename(tmp, join(dir, 'row.json'));
}

const pct = (v: MeanSd) => `${(100 * v.mean).toFixed(1)}${Number.isFinite(v.sd) ? ` ± ${(100 * v.sd).toFixed(1)}` : ''}`;
const plain = (v: MeanSd, digits = 1) => `${Number.isFinite(v.mean) ? v.mean.toFixed(digits) : '–'}${Number.isFinite(v.sd) ? ` ± ${v.sd.toFixed(digits)}` : ''}`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const labelOf = (id: string) => (id === 'zeroshot' ? 'zero-shot' : methodById(id).label);

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((v, c) => v.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

/** The plan as a person reads it: what each budget became, and what is out of reach. */
export function describePlan(cells: readonly StudyCell[], spec: StudySpec, shape: StudyShape): string {
  const lines: string[] = [];
  lines.push(
    spec.includeHead
      ? `Budgets count trainable values with the classification head included (${int(shape.head)} values), as the comparison table and each run's trainable_params do.`
      : `Budgets count the method's own trainable values, without the classification head (${int(shape.head)} values); the runs' trainable_params include it.`,
  );
  const seen = new Set<string>();
  const table = [['method', 'budget', 'setting', 'achieved', 'off by', 'note']];
  for (const c of cells) {
    if (c.reference || seen.has(`${c.method}|${c.budget}`)) continue;
    seen.add(`${c.method}|${c.budget}`);
    const off = (100 * (c.trainable_params - c.budget!)) / c.budget!;
    table.push([labelOf(c.method), int(c.budget!), c.setting, int(c.trainable_params), `${off >= 0 ? '+' : ''}${off.toFixed(1)}%`, c.reachable ? (c.note ?? '') : `OUT OF REACH: ${c.note}`]);
  }
  lines.push(pad(table));
  const refs = [...new Map(cells.filter((c) => c.reference).map((c) => [c.method, c])).values()];
  if (refs.length) lines.push(`References, once per seed: ${refs.map((r) => `${labelOf(r.method)} (${int(r.trainable_params)} values)`).join(', ')}.`);
  const arms = new Set(cells.map((c) => c.k_shot)).size;
  lines.push(`${cells.length} runs: ${spec.methods.length} methods × ${spec.budgets.length} budgets × ${spec.seeds.length} seeds${arms > 1 ? ` × ${arms} k-shot settings` : ''}${refs.length ? ` + ${refs.length} references × ${spec.seeds.length} seeds${arms > 1 ? ` × ${arms}` : ''}` : ''}.`);
  return lines.join('\n');
}

/** The mean ± sd table and the paired differences with their verdicts. */
export function describeResults(rows: readonly StudyRow[], pair: [string, string] | undefined): string {
  const lines: string[] = [];
  const table = [['method', 'k', 'budget', 'setting', 'params', 'n', 'best acc %', 'final acc %', 'eff. rank', 'intruders']];
  for (const s of summarise(rows))
    table.push([
      labelOf(s.method),
      s.k_shot === null ? 'all' : String(s.k_shot),
      s.budget === null ? 'ref' : int(s.budget),
      s.setting,
      int(s.trainable_params),
      String(s.n),
      pct(s.accuracy),
      pct(s.final_accuracy),
      plain(s.rank_effective),
      plain(s.intruders),
    ]);
  lines.push(table.length > 1 ? pad(table) : 'No finished runs yet.');
  if (pair) {
    const diffs = pairedDifference(rows, pair[0], pair[1]);
    if (diffs.length) {
      lines.push('', `Paired difference ${labelOf(pair[0])} − ${labelOf(pair[1])} (best validation accuracy, points; paired by seed; 95% t-interval):`);
      for (const d of diffs) lines.push(`  ${verdict(d, labelOf(pair[0]), labelOf(pair[1]))}`);
      const di = pairedDifference(rows, pair[0], pair[1], 'intruders');
      if (di.length) lines.push(`  Intruders (ε = 0.5, summed over layers), ${labelOf(pair[0])} − ${labelOf(pair[1])}: ${di.map((d) => `${d.budget === null ? 'ref' : int(d.budget)}: ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(1)}${Number.isFinite(d.lo) ? ` [${d.lo.toFixed(1)}, ${d.hi.toFixed(1)}]` : ''}`).join('; ')}`);
    }
  }
  return lines.join('\n');
}

function rowFrom(cell: StudyCell, summary: Record<string, unknown>, folder: string, seconds: number): StudyRow {
  const n = (k: string) => (typeof summary[k] === 'number' ? (summary[k] as number) : NaN);
  return {
    ...cell,
    // What the run really trained (the plan's count, checked below).
    trainable_params: typeof summary.trainable_params === 'number' ? summary.trainable_params : cell.trainable_params,
    status: summary.status === 'diverged' ? 'diverged' : 'done',
    best_val_accuracy: n('best_val_accuracy'),
    final_val_accuracy: n('final_val_accuracy'),
    rank_numerical: n('rank_numerical'),
    rank_effective: n('rank_effective'),
    intruders: n('intruders'),
    intruders_per_layer: summary.intruders_per_layer as StudyRow['intruders_per_layer'],
    run_id: folder,
    seconds,
  };
}

/** Writes study.json, study.csv and study.svg from the rows so far. */
async function writeOutputs(out: string, a: StudyArgs, cells: readonly StudyCell[], rows: readonly StudyRow[], shape: StudyShape): Promise<void> {
  const pair = a.pair ?? defaultPair(a.spec.methods);
  const json = {
    model: a.model,
    data: a.data,
    spec: a.spec,
    counting: { include_head: a.spec.includeHead, head_params: shape.head, backbone_params: shape.backbone, targeted_layers: shape.layers.length },
    planned: cells.length,
    runs: rows,
    summary: summarise(rows),
    ...(pair ? { pair, differences: pairedDifference(rows, pair[0], pair[1]) } : {}),
  };
  const labels = Object.fromEntries([...new Set(cells.map((c) => c.method))].map((m) => [m, labelOf(m)]));
  await writeFile(join(out, 'study.json'), `${JSON.stringify(json, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  await writeFile(join(out, 'study.csv'), studyCsv(rows));
  await writeFile(join(out, 'study.svg'), studySvg(rows, { labels }));
}

export interface StudyResult {
  rows: StudyRow[];
  cells: StudyCell[];
  /** Keys of the cells skipped as already finished. */
  skipped: string[];
}

export async function study(a: StudyArgs, log: (line: string) => void = console.log, runLog?: (line: string) => void): Promise<StudyResult> {
  const out = resolve(a.out);
  await mkdir(join(out, 'runs'), { recursive: true });
  const inputs: RunInputs = await loadRunInputs(parseTrainArgs(['--model', a.model, '--data', a.data, '--method', 'probe', ...a.trainFlags]), runLog ?? (() => {}));
  const spec = parseConfig(inputs.ckpt.config, `${inputs.ckpt.source}/config.json`, inputs.ckpt.tensors.keys());
  const targets = a.targets ?? DEFAULT_TARGETS[spec.family];
  const shape = studyShape(spec, targets, inputs.dataset.classNames.length, a.head);
  const base = Object.fromEntries(Object.entries(a.sets).map(([m, s]) => [m, parseTrainArgs(['--model', 'x', '--data', 'x', '--method', m, ...Object.entries(s).flatMap(([k, v]) => ['--set', `${k}=${v}`])]).set]));
  const cells = planStudy(a.spec, shape, base);
  log(`Study of ${a.spec.methods.map(labelOf).join(', ')} on ${a.model} (${shape.layers.length} targeted layers: ${targets.join(', ')}), data ${a.data}`);
  log(describePlan(cells, a.spec, shape));
  const rows: StudyRow[] = [];
  const skipped: string[] = [];
  if (a.planOnly) return { rows, cells, skipped };
  const gpu = await nodeGpu();
  log(`GPU: ${gpu.summary.vendor} ${gpu.summary.architecture} ${gpu.summary.description}`.trim());
  // As the train CLI: tilings tuned after the first run's first step (RANKSCOPE_AUTOTUNE=0: off).
  autotuneFromEnv(gpu.ctx);
  const started = performance.now();
  try {
    for (const [i, cell] of cells.entries()) {
      const folder = runFolder(cell.key);
      const dir = join(out, 'runs', folder);
      const argv = cellArgv(a, cell, dir);
      const fingerprint = fingerprintOf(argv);
      const done = await readFinished(dir);
      if (done && done.row.key === cell.key && done.fingerprint === fingerprint) {
        log(`[${i + 1}/${cells.length}] skip ${cell.key}: finished earlier (runs/${folder}/row.json)`);
        rows.push(done.row);
        skipped.push(cell.key);
        continue;
      }
      if (done) log(`[${i + 1}/${cells.length}] ${cell.key}: its settings changed since it ran; running it again`);
      else if (await stat(dir).then(() => true, () => false)) log(`[${i + 1}/${cells.length}] ${cell.key}: half-written (no row.json); running it again`);
      // A half-written or outdated run starts over in an empty folder.
      await rm(dir, { recursive: true, force: true });
      log(`[${i + 1}/${cells.length}] ${cell.key}: ${labelOf(cell.method)}${cell.setting ? ` ${cell.setting}` : ''}, ${int(cell.trainable_params)} values, seed ${cell.seed}${cell.k_shot === null ? '' : `, ${cell.k_shot}-shot`}, lr ${cellLr(a, cell)}`);
      const t0 = performance.now();
      let row: StudyRow;
      try {
        const summary = await trainLoaded(parseTrainArgs(argv), inputs, gpu, runLog ?? (() => {}));
        row = rowFrom(cell, summary, folder, (performance.now() - t0) / 1000);
        if (row.trainable_params !== cell.trainable_params)
          log(`  note: the run trained ${int(row.trainable_params)} values, the plan counted ${int(cell.trainable_params)}; the row keeps what the run trained.`);
        await writeFinished(dir, { row, fingerprint });
        log(`  ${row.status}: best ${(100 * row.best_val_accuracy).toFixed(1)}%, final ${(100 * row.final_val_accuracy).toFixed(1)}%, effective rank ${row.rank_effective.toFixed(1)}, intruders ${row.intruders} (${row.seconds!.toFixed(1)} s)`);
      } catch (e) {
        const message = (e as Error).message;
        row = { ...cell, status: 'failed', best_val_accuracy: NaN, final_val_accuracy: NaN, rank_numerical: NaN, rank_effective: NaN, intruders: NaN, run_id: folder, seconds: (performance.now() - t0) / 1000, note: [cell.note, `failed: ${message}`].filter(Boolean).join(' ') };
        log(`  failed: ${message}`);
      }
      rows.push(row);
      await writeOutputs(out, a, cells, rows, shape);
    }
  } finally {
    gpu.ctx.destroy();
  }
  await writeOutputs(out, a, cells, rows, shape);
  log('');
  log(describeResults(rows, a.pair ?? defaultPair(a.spec.methods)));
  log(`\nWall time ${((performance.now() - started) / 1000).toFixed(0)} s for ${cells.length - skipped.length} runs (${skipped.length} skipped). Wrote ${join(out, 'study.json')}, study.csv, study.svg.`);
  return { rows, cells, skipped };
}
