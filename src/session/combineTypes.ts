/**
 * What the page sends the lab worker to ensemble or compose finished runs, and what comes back.
 * Plain data (structured-cloneable): the members' merged checkpoints travel as the zips their runs
 * exported (`RunExports.merged`), so runs restored from the page's archive work as well.
 */
import type { ControllerSettings } from '../ensemble/controller';
import type { EnsembleThumbnail } from './ensembleImages';

/** A finished run taking part: its merged Hugging Face checkpoint, zipped, as the run exported it. */
export interface CombineMember {
  runId: string;
  name: string;
  merged: Uint8Array;
  /** The method that trained it (compose checks an adapter run changed only adapted weights). */
  method?: string;
  /** Its own final validation accuracy, when known. */
  accuracy?: number;
}

/** Progress of an ensemble or a composition, streamed to the page. */
export interface CombineProgress {
  phase: 'members' | 'training' | 'evaluating';
  message: string;
  step?: number;
  total?: number;
  loss?: number;
  valAccuracy?: number;
}

export interface EnsembleRequest {
  members: CombineMember[];
  controller: ControllerSettings;
  /** Train the controller on k images per class of the lab's training split (seeded by controller.seed); all when absent. */
  kShot?: number;
  /** Images per batch while members read their features and logits. */
  batchSize: number;
}

export interface EnsembleOutcome {
  accuracy: number;
  members: Array<{ runId: string; name: string; accuracy: number; head: 'linear' | 'zeroshot'; imageSize: number; featureSize: number }>;
  average: number;
  oracle: number;
  bestMember: number;
  trainImages: number;
  valImages: number;
  kShot: number | null;
  losses: number[];
  perImage: { labels: number[]; memberPredictions: number[][]; ensemblePredictions: number[]; temperatures: number[][] };
  meanTemperatures: number[];
  /**
   * Small pictures of some validation images to choose from (`shownRows`: the first ones and those
   * where the members disagree), each naming its `perImage` row. Absent in ensembles archived before
   * they were kept: the page then picks images by index.
   */
  thumbnails?: EnsembleThumbnail[];
  controllerParams: number;
  classNames: string[];
  seconds: number;
  /** ensemble.json, controller.safetensors, apply_ensemble.py and each member's merged model under members/, zipped. */
  zip: Uint8Array;
}
