/**
 * WebGPU under Node through the `webgpu` package (Dawn), for tests, benchmarks and the CLI.
 * Never imported by the page. On machines without a GPU, point VK_ICD_FILENAMES at SwiftShader.
 */
import { existsSync } from 'node:fs';
import { acquireGpu, type AcquiredGpu } from './device';
import { GpuContext } from './context';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn crashes inside SwiftShader's threads if the object returned by create() is collected
// while its devices live, so every one made here stays referenced for the life of the process.
const keepAlive: unknown[] = [];

export interface NodeGpu extends AcquiredGpu {
  ctx: GpuContext;
}

export async function nodeGpu(): Promise<NodeGpu> {
  // Only use SwiftShader when no driver was chosen and the machine has it (CI, dev boxes).
  if (!process.env.VK_ICD_FILENAMES && !process.env.RANKSCOPE_REAL_GPU && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const webgpu = (await import('webgpu')) as unknown as {
    create: (flags: string[]) => GPU;
    globals: Record<string, unknown>;
  };
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]);
  keepAlive.push(gpu);
  const acquired = await acquireGpu(gpu);
  // RANKSCOPE_SUBGROUPS=0 (or false/off/no) keeps the plain reductions where the device has subgroups.
  const subgroups = !/^(0|false|off|no)$/i.test(process.env.RANKSCOPE_SUBGROUPS ?? '');
  // RANKSCOPE_MIXED_PRECISION=1 stores frozen weights in f16 on any GPU, =0 never; unset, where shader-f16 is.
  const mixedPrecision = mixedPrecisionFromEnv(process.env.RANKSCOPE_MIXED_PRECISION);
  const ctx = new GpuContext(acquired.device, { subgroups, mixedPrecision });
  // The debug switch the batch error messages point to: each launch submitted alone.
  if (process.env.RANKSCOPE_CHECK_EACH_LAUNCH) ctx.checkEachLaunch = true;
  return { ...acquired, ctx };
}

/** RANKSCOPE_MIXED_PRECISION: 1/true/on/yes or 0/false/off/no; unset or empty leaves the device's default. */
export function mixedPrecisionFromEnv(value: string | undefined): boolean | undefined {
  const v = (value ?? '').trim();
  if (!v) return undefined;
  if (/^(1|true|on|yes)$/i.test(v)) return true;
  if (/^(0|false|off|no)$/i.test(v)) return false;
  throw new Error(`RANKSCOPE_MIXED_PRECISION must be 1 or 0 (on or off), got "${value}"`);
}
