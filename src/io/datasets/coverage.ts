/**
 * Whether a split can train and validate a classifier at all: at least two classes, and every
 * class with a training image and a validation image. Without this check a one-class set "trains"
 * to 100 %, a class with one image is never validated, and labels that skip values grow classes
 * no image belongs to; each case gets a message that names the classes and what to do.
 */

export interface SplitToCheck {
  classNames: readonly string[];
  trainLabels: ArrayLike<number>;
  trainIndices: readonly number[];
  valLabels: ArrayLike<number>;
  valIndices: readonly number[];
  /** Names the data set in messages. */
  source: string;
  /** Whether validation comes from its own split (then "add images to the validation split"). */
  separateValidation: boolean;
}

export class DatasetCoverageError extends Error {
  override name = 'DatasetCoverageError';
}

function counts(labels: ArrayLike<number>, indices: readonly number[], classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (const i of indices) c[labels[i]]++;
  return c;
}

function list(names: string[]): string {
  const shown = names.slice(0, 5).map((n) => `"${n}"`).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

export function checkClassCoverage(s: SplitToCheck): void {
  const C = s.classNames.length;
  const train = counts(s.trainLabels, s.trainIndices, C);
  const val = counts(s.valLabels, s.valIndices, C);
  const present = s.classNames.filter((_, c) => train[c] + val[c] > 0);
  if (present.length < 2) {
    throw new DatasetCoverageError(
      `${s.source} holds images of ${present.length === 1 ? `only one class (${list(present)})` : 'no class'}: a classifier needs at least two. ` +
        'Add a folder of images for each class.',
    );
  }
  const empty = s.classNames.filter((_, c) => train[c] + val[c] === 0);
  if (empty.length) {
    throw new DatasetCoverageError(
      `${s.source}: ${empty.length} of its ${C} classes have no images (${list(empty)}). ` +
        'The labels skip values, or the class list names classes the files do not hold: fix the labels or the class list (classes.txt).',
    );
  }
  const noTrain = s.classNames.filter((_, c) => train[c] === 0);
  if (noTrain.length) {
    throw new DatasetCoverageError(
      `${s.source}: no training images of ${list(noTrain)} are left after the split and limits. Raise the training limit or k-shot, or add images of those classes.`,
    );
  }
  const noVal = s.classNames.filter((_, c) => val[c] === 0);
  if (noVal.length) {
    const few = s.classNames.filter((_, c) => val[c] === 0 && train[c] < 2);
    throw new DatasetCoverageError(
      `${s.source}: ${list(noVal)} ${noVal.length === 1 ? 'has' : 'have'} no validation images, so accuracy on ${noVal.length === 1 ? 'it' : 'them'} would never be measured. ` +
        (s.separateValidation
          ? 'Add images of those classes to the validation split.'
          : few.length
            ? `Each class needs at least 2 images (one to train, one to validate); ${list(few)} ${few.length === 1 ? 'has' : 'have'} fewer. Add images, or raise the validation fraction or limit.`
            : 'Raise the validation fraction or the validation limit.'),
    );
  }
}
