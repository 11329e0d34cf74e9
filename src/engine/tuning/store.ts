/**
 * Where GEMM tuning results are kept between sessions, per GPU adapter: IndexedDB in the page
 * (src/session/idbTuningStore.ts), a JSON file in the user's cache folder under Node
 * (fileTuningStore.ts). A record from another kernel version is ignored, so a changed shader is
 * tuned afresh.
 */

import type { GemmShape } from '../ops/matmulTiling';

/** Bumped when matmul.wgsl or the candidate tilings change in a way that makes old timings stale. */
export const TUNING_VERSION = 1;

export interface TunedClassRecord {
  /** The winning tiling's id ("16x16k16"). */
  tiling: string;
  /** Measured ms per launch of each candidate on the class's representative shape. */
  ms: Record<string, number>;
  /** The shape that was timed, "MxNxK×batch". */
  shape: string;
  measuredAt: string;
}

export interface TuningRecord {
  version: number;
  adapter: string;
  classes: Record<string, TunedClassRecord>;
  /**
   * Classes whose tuning a budget cut short: the shape timed and the ms of the tilings done so far
   * (null where the device rejected one). A later session times the rest.
   */
  partial?: Record<string, { shape: GemmShape; ms: Record<string, number | null> }>;
}

export interface TuningStore {
  /** Where the results live, for people ("~/.cache/rankscope/gemm-tuning.json", "IndexedDB …"). */
  readonly description: string;
  load(adapter: string): Promise<TuningRecord | undefined>;
  save(record: TuningRecord): Promise<void>;
}

/**
 * The key tuning results are kept under: the adapter's identity and driver as GPUAdapterInfo
 * gives them (Dawn puts the driver version in `description`, e.g. "SwiftShader driver 5.0.0"),
 * so another GPU, or the same GPU after a driver update that renames it, is tuned afresh.
 */
export function adapterKey(device: GPUDevice): string {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (!info) return 'unknown adapter';
  const sub = 'subgroupMaxSize' in info ? ` subgroups ${String(info.subgroupMinSize)}-${String(info.subgroupMaxSize)}` : '';
  return [info.vendor, info.architecture, info.device, info.description].map((s) => s || '?').join(' | ') + sub;
}
