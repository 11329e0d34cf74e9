import type { Fingerprint } from '../io/sources/fingerprinting';
import type { MethodId } from '../methods/registry';
import type { AdapterSummary } from '../gpu/device';
import type { TuningSummary } from '../engine/tuning/matmulTuner';
import type { PrecisionSetting } from '../train/precision';
import type { ReductionPathSummary } from '../engine/ops/reductionPath';
import type { DroppedFile } from '../io/sources/droppedFiles';
import type { DataPlan } from './prepare';
import type { CheckpointPolicy, RunEvent, RunSpec } from './run';
import type { CombineProgress, EnsembleOutcome, EnsembleRequest } from './combineTypes';
import type { ComposeOutcome, ComposeRequest } from './composeTypes';
import type { ComposeEstimate } from './compose';

/** Where a model comes from: a Hub id, files a person dropped, or a folder served over HTTP (the demo model). */
export type ModelRequest =
  | { kind: 'hub'; id: string; endpoint?: string; revision?: string; token?: string }
  | { kind: 'files'; files: File[] }
  | { kind: 'url'; base: string };

/**
 * Where a data set comes from: dropped files (folders, zip, IDX, CIFAR, parquet) or a folder served
 * over HTTP. Files from a dropped or picked folder travel as { file, path }, since a File's
 * webkitRelativePath does not survive the trip into the worker.
 */
export type DatasetRequest = { kind: 'files'; files: Array<File | DroppedFile> } | { kind: 'url'; base: string; files: string[] };

export interface LoadProgressEvent {
  what: 'model' | 'dataset';
  file: string;
  done: number;
  total: number | undefined;
}

export interface ModelInfo {
  source: string;
  family: string;
  architecture: string;
  parameters: number;
  layers: number;
  hidden: number;
  heads: number;
  imageSize: number;
  patchSize: number;
  /** Every linear layer a method can target: module path, shape. */
  linearLayers: Array<{ module: string; out: number; in: number }>;
  defaultTargets: string[];
  allTargets: string[];
  /** A full CLIP's text tower and tokenizer files (what zero-shot heads need); absent for other models. */
  text?: TextTowerInfo;
  /** SHA-256 over the files read (FingerprintingSource), recorded with every run. */
  fingerprint?: Fingerprint;
}

export interface TextTowerInfo {
  layers: number;
  hidden: number;
  vocabSize: number;
  maxPositions: number;
  projectionDim: number;
  /** The tokenizer files that loaded with the model (tokenizer.json, tokenizer_config.json). */
  tokenizerFiles: string[];
  /** Why the tokenizer cannot be used (missing or unreadable tokenizer.json), naming the file. */
  tokenizerError?: string;
}

export interface DatasetInfo {
  source: string;
  classNames: string[];
  /** Images per class in the whole set, and in the training and validation parts of the split. */
  counts: number[];
  trainCounts: number[];
  valCounts: number[];
  skipped: Array<{ file: string; reason: string }>;
  /** A few small RGBA thumbnails per class for the sample grid. */
  samples: Array<{ label: number; width: number; height: number; rgba: Uint8ClampedArray }>;
  /** SHA-256 over the files read (FingerprintingSource), recorded with every run. */
  fingerprint?: Fingerprint;
  /** The set's own validation split (class folders under train/ and val/…); the validation fraction then does not apply. */
  validationSplit?: string;
  /** Where the decoded images are kept: OPFS on disk (read per batch) or memory; photos' working edge. */
  held?: { where: 'disk' | 'memory'; bytes: number; edge?: number };
}

export interface RunEstimate {
  method: MethodId;
  trainableParams: number;
  /** Largest rank ΔW can reach per targeted layer. */
  maxRank: Array<{ module: string; rank: number; full: number }>;
  /** Rough GPU memory the run needs: weights, optimizer state, activations. */
  memoryBytes: number;
}

/** The worker's API, called through comlink from the page. */
export interface LabApi {
  /**
   * Acquires the device; `autotune: false` keeps the default GEMM tilings (no tuning, no stored
   * winners); `subgroups: false` keeps the plain row reductions where the GPU has subgroups;
   * `mixedPrecision` forces mixed precision on or off (by default on where the GPU has shader-f16).
   */
  init(options?: { autotune?: boolean; subgroups?: boolean; mixedPrecision?: boolean }): Promise<AdapterSummary>;
  /** The lab device's mixed-precision setting (for the GPU dialog); undefined before init. */
  precision(): Promise<PrecisionSetting | undefined>;
  /** Which path the row reductions (layernorm, cross-entropy) take on the lab's device, as the ops report it (for the GPU dialog); undefined before init. */
  reductions(): Promise<ReductionPathSummary | undefined>;
  /** What GEMM autotuning did on the lab's device (for the GPU dialog); undefined before init. */
  tuning(): Promise<TuningSummary | undefined>;
  loadModel(req: ModelRequest, onProgress?: (p: LoadProgressEvent) => void): Promise<ModelInfo>;
  /** Cancels the model load (default) or the data set load in progress. */
  cancelLoad(what?: 'model' | 'dataset'): void;
  listCachedModels(): Promise<Array<{ repoId: string; revision: string; bytes: number; files: number }>>;
  clearCachedModel(repoId?: string): Promise<void>;
  loadDataset(req: DatasetRequest, plan: DataPlan, onProgress?: (p: LoadProgressEvent) => void): Promise<DatasetInfo>;
  /** Splits the loaded data set again with another plan (split, seed, k-shot, limits) without reading its files again. */
  replanDataset(plan: DataPlan): Promise<DatasetInfo>;
  estimate(specs: RunSpec[]): Promise<RunEstimate[]>;
  enqueue(specs: RunSpec[]): void;
  /** Queues runs a reload interrupted, each from its stored checkpoint; refuses another model or split with a message. */
  resumeRuns(specs: RunSpec[]): Promise<void>;
  /** Deletes an interrupted run's stored checkpoint. */
  discardCheckpoint(id: string): Promise<void>;
  setCheckpointPolicy(policy: Partial<CheckpointPolicy>): void;
  /** For end-to-end tests: destroys the training device, as a driver reset would lose it. */
  destroyDeviceForTest(): void;
  pause(id: string): void;
  resume(id: string): void;
  stop(id: string): void;
  subscribe(listener: (e: RunEvent) => void): void;
  /**
   * Ensembles finished runs on the loaded data split (session/ensembleRuns.ts), queued behind the
   * runs already in the lab's queue so it never shares the device with one.
   */
  ensembleRuns(req: EnsembleRequest, onProgress?: (p: CombineProgress) => void): Promise<EnsembleOutcome>;
  /** What composing these runs would hold on the GPU (task vectors resident), against `req.limitBytes`. */
  composeEstimate(req: ComposeRequest): Promise<ComposeEstimate>;
  /**
   * Composes finished runs' task vectors (aTLAS, session/compose.ts) on a few-shot target from the
   * loaded split, queued like ensembleRuns; refuses past `req.limitBytes` with the estimate's message.
   */
  composeRuns(req: ComposeRequest, onProgress?: (p: CombineProgress) => void): Promise<ComposeOutcome>;
}
