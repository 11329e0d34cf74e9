/** Command-line options and the shapes the benchmark runs at. */
import type { Budget } from './timing';
import { STEP_SHAPES, type StepShape } from './stepModels';

export const SUITES = ['matmul', 'methods', 'tfjs', 'step', 'attention'] as const;
/** Suites run when --only is not given: the step suite loads the demo model and the attention suite runs for minutes on SwiftShader; both only when asked. */
export const DEFAULT_SUITES: readonly Suite[] = ['matmul', 'methods', 'tfjs'];
export type Suite = (typeof SUITES)[number];

export interface BenchOptions {
  /** Images per step: tokens T = 197 × batch (ViT-B/16 at 224², with the class token). */
  batch: number;
  /** Small shapes and one or two iterations: a smoke run, for tests. */
  quick: boolean;
  /** Where the JSON goes; default bench-results/bench-<date>.json. */
  out?: string;
  suites: Suite[];
  /** Timed training steps per method in the step suite. */
  steps: number;
  /** Images per step in the step suite: --batch when given, else per model (demo 16, ViT shapes 8). */
  stepBatch?: number;
  /** Models of the step suite (default the demo model alone). */
  stepShapes: StepShape[];
  /** Keep only this many transformer blocks of the ViT shapes in the step suite. */
  stepDepth?: number;
  /** Rounds of the step suite: each round runs --steps timed steps of every method, interleaved. */
  stepRounds: number;
  /** Modules the step suite adapts. */
  stepTargets: string[];
  /** Also time PyTorch fp32 eager on the same ViT-B/16 LoRA step (needs python3 with torch). */
  torch: boolean;
  /**
   * GEMM autotuning in the step suite: on (tune in the warm-up, time tuned steps), off (default
   * tilings), or both (each method timed both ways, interleaved). RANKSCOPE_AUTOTUNE=0 forces off.
   */
  autotune: 'on' | 'off' | 'both';
  /** Tuning budget in ms per method's warm-up (default: RANKSCOPE_AUTOTUNE_BUDGET_MS, else 2000). */
  tuneBudgetMs?: number;
  /** Restrict the methods suite to these method names. */
  methods?: string[];
  /** Budget of each matmul and tfjs measurement. */
  budget: Budget;
  /** Budget of each adapter-method measurement (a whole layer forward + backward, so fewer iterations). */
  methodBudget: Budget;
  /** Turn off timestamp-query profiling even where the device has it. */
  noProfile: boolean;
}

/** A linear layer, PyTorch convention: W is (out, in), y = x·Wᵀ. */
export interface LayerShape {
  name: string;
  in: number;
  out: number;
}

/** ViT-B/16's linear layers: attention projections, MLP up and MLP down. */
export const VIT_B16_LAYERS: LayerShape[] = [
  { name: 'attn qkv/out 768→768', in: 768, out: 768 },
  { name: 'mlp fc1 768→3072', in: 768, out: 3072 },
  { name: 'mlp fc2 3072→768', in: 3072, out: 768 },
];

/** Small shapes for --quick, deliberately not multiples of the tile size, with in < out and in > out. */
export const QUICK_LAYERS: LayerShape[] = [
  { name: 'quick 48→48', in: 48, out: 48 },
  { name: 'quick 48→160', in: 48, out: 160 },
  { name: 'quick 160→48', in: 160, out: 48 },
];

export const VIT_TOKENS = 197;
export const QUICK_TOKENS = 13;

export function tokens(opts: BenchOptions): number {
  return (opts.quick ? QUICK_TOKENS : VIT_TOKENS) * opts.batch;
}

export function layers(opts: BenchOptions): LayerShape[] {
  return opts.quick ? QUICK_LAYERS : VIT_B16_LAYERS;
}

export const USAGE = `usage: npm run bench -- [options]
  --batch N         images per step; tokens = 197 × N (default 1)
  --quick           tiny shapes and 1–2 iterations (a smoke run)
  --only LIST       comma-separated suites to run: ${SUITES.join(', ')} (repeatable; default all but step and attention)
  --steps N         timed training steps per method per round in the step suite (default 3; 1 with --quick)
  --rounds N        step suite: rounds, methods interleaved in each (default 2; 1 with --quick)
  --shapes LIST     step suite models: ${STEP_SHAPES.join(', ')} (default demo; the ViT shapes are slow on SwiftShader)
  --depth N         step suite: keep only the first N blocks of the ViT shapes
  --targets LIST    step suite: modules to adapt (default query,value)
  --autotune M      step suite: GEMM autotuning on (default; tuned in each method's warm-up), off, or
                    both (every method timed with default and tuned tilings, interleaved);
                    RANKSCOPE_AUTOTUNE=0 forces off; winners kept in ~/.cache/rankscope/
  --tune-budget MS  step suite: tuning budget per method's warm-up (default 2000, or
                    RANKSCOPE_AUTOTUNE_BUDGET_MS)
  --torch           step suite: also time PyTorch fp32 eager on the ViT-B/16 LoRA step (python3 + torch)
  --methods LIST    comma-separated adapter methods for the methods suite (default all present)
  --out PATH        write the JSON here (default bench-results/bench-<date>.json)
  --min-iters N     at least N timed iterations per measurement (default 3; methods 1)
  --seconds S       keep timing each measurement for at least S seconds (default 2)
  --max-seconds S   but stop timing a measurement after S seconds, even short of --min-iters (default 6)
  --max-iters N     at most N timed iterations per measurement (default 2000)
  --no-profile      wall clock only, no timestamp queries`;

export class UsageError extends Error {}

function positiveInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (!v || !Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got ${v ?? 'nothing'}`);
  return n;
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  let batch = 1;
  let batchGiven = false;
  let quick = false;
  let out: string | undefined;
  let noProfile = false;
  const suites = new Set<Suite>();
  let methods: string[] | undefined;
  let minIters: number | undefined;
  let steps: number | undefined;
  let rounds: number | undefined;
  let depth: number | undefined;
  let shapes: StepShape[] | undefined;
  let targets: string[] | undefined;
  let torch = false;
  let autotune: BenchOptions['autotune'] = 'on';
  let tuneBudgetMs: number | undefined;
  let maxIters: number | undefined;
  let seconds: number | undefined;
  let maxSeconds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--batch':
        batch = positiveInt(flag, value());
        batchGiven = true;
        break;
      case '--quick':
        quick = true;
        break;
      case '--out':
        out = value();
        break;
      case '--only':
        for (const s of value().split(',').filter(Boolean)) {
          if (!(SUITES as readonly string[]).includes(s)) throw new UsageError(`--only: unknown suite "${s}"; choose from ${SUITES.join(', ')}`);
          suites.add(s as Suite);
        }
        break;
      case '--methods':
        methods = value().split(',').filter(Boolean).map((m) => m.toLowerCase());
        break;
      case '--steps':
        steps = positiveInt(flag, value());
        break;
      case '--rounds':
        rounds = positiveInt(flag, value());
        break;
      case '--depth':
        depth = positiveInt(flag, value());
        break;
      case '--shapes':
        shapes = value()
          .split(',')
          .filter(Boolean)
          .map((x) => {
            if (!(STEP_SHAPES as readonly string[]).includes(x)) throw new UsageError(`--shapes: unknown shape "${x}"; choose from ${STEP_SHAPES.join(', ')}`);
            return x as StepShape;
          });
        break;
      case '--autotune': {
        const v = value();
        if (v !== 'on' && v !== 'off' && v !== 'both') throw new UsageError(`--autotune takes on, off or both, not "${v}"`);
        autotune = v;
        break;
      }
      case '--tune-budget': {
        const v = Number(value());
        if (!(Number.isFinite(v) && v >= 0)) throw new UsageError('--tune-budget needs milliseconds ≥ 0');
        tuneBudgetMs = v;
        break;
      }
      case '--torch':
        torch = true;
        break;
      case '--targets':
        targets = value().split(',').filter(Boolean);
        break;
      case '--min-iters':
        minIters = positiveInt(flag, value());
        break;
      case '--max-iters':
        maxIters = positiveInt(flag, value());
        break;
      case '--seconds': {
        const v = value();
        seconds = Number(v);
        if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--seconds needs a number ≥ 0, got ${v}`);
        break;
      }
      case '--max-seconds': {
        const v = value();
        maxSeconds = Number(v);
        if (!Number.isFinite(maxSeconds) || maxSeconds < 0) throw new UsageError(`--max-seconds needs a number ≥ 0, got ${v}`);
        break;
      }
      case '--no-profile':
        noProfile = true;
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  // Defaults keep a full run on SwiftShader (about 1 GFLOP/s, 2 cores) near ten minutes, while on a
  // real GPU every measurement still runs for seconds over hundreds of iterations.
  const budget: Budget = quick
    ? { minIters: minIters ?? 1, maxIters: maxIters ?? 2, seconds: seconds ?? 0, maxSeconds: maxSeconds ?? 0 }
    : { minIters: minIters ?? 3, maxIters: maxIters ?? 2000, seconds: seconds ?? 2, maxSeconds: maxSeconds ?? 6 };
  // A method step is a whole layer's forward and backward, several times a matmul: one timed run
  // after the warm-up is enough when it alone takes longer than the budget.
  const methodBudget: Budget = quick ? budget : { ...budget, minIters: minIters ?? 1 };
  return {
    batch,
    quick,
    out,
    suites: suites.size ? SUITES.filter((s) => suites.has(s)) : [...DEFAULT_SUITES],
    methods,
    steps: steps ?? (quick ? 1 : 3),
    stepBatch: batchGiven ? batch : undefined,
    stepShapes: shapes ?? ['demo'],
    stepDepth: depth,
    stepRounds: rounds ?? (quick ? 1 : 2),
    stepTargets: targets ?? ['query', 'value'],
    torch,
    autotune,
    tuneBudgetMs,
    budget,
    methodBudget,
    noProfile,
  };
}
