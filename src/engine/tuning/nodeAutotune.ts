/**
 * Autotuning under Node (CLIs, bench), from the environment: on unless RANKSCOPE_AUTOTUNE=0,
 * results in $XDG_CACHE_HOME/rankscope/gemm-tuning.json (else ~/.cache/rankscope/), a budget
 * from RANKSCOPE_AUTOTUNE_BUDGET_MS. Unit tests do not call this, so tuning is off there unless a
 * test switches it on.
 */
import type { GpuContext } from '../../gpu/context';
import { defaultTuningFile, FileTuningStore } from './fileTuningStore';
import { DEFAULT_BUDGET_MS, disableAutotune, enableAutotune } from './matmulTuner';

export function autotuneFromEnv(ctx: GpuContext, env: NodeJS.ProcessEnv = process.env): boolean {
  const flag = env.RANKSCOPE_AUTOTUNE;
  if (flag !== undefined && /^(0|false|off|no)$/i.test(flag.trim())) {
    disableAutotune(ctx, `RANKSCOPE_AUTOTUNE=${flag}`);
    return false;
  }
  const budgetText = env.RANKSCOPE_AUTOTUNE_BUDGET_MS;
  const budgetMs = budgetText === undefined ? DEFAULT_BUDGET_MS : Number(budgetText);
  if (!(Number.isFinite(budgetMs) && budgetMs >= 0)) {
    throw new Error(`RANKSCOPE_AUTOTUNE_BUDGET_MS must be a number of milliseconds ≥ 0, got "${budgetText}"`);
  }
  enableAutotune(ctx, { budgetMs, store: new FileTuningStore(defaultTuningFile(env)) });
  return true;
}
