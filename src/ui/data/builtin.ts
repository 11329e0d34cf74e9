/** The data sets the app ships in public/datasets/, offered with one click and loaded without a network. */
export interface BuiltinDataset {
  id: string;
  label: string;
  description: string;
  /** Folder under the app's base URL. */
  folder: string;
  files: string[];
}

export const BUILTIN_DATASETS: BuiltinDataset[] = [
  {
    id: 'fashion-mnist-mini',
    label: 'Fashion-MNIST mini',
    description: '1,000 grey 28×28 photos of clothing in 10 classes (100 each), a seeded subset of Zalando Research’s Fashion-MNIST (MIT licence).',
    folder: 'datasets/fashion-mnist-mini/',
    files: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
  },
  {
    id: 'fashion-mnist-heldout',
    label: 'Fashion-MNIST held-out classes (demo)',
    description:
      'The five Fashion-MNIST classes the demo model never saw in pretraining (pullover, coat, shirt, sneaker, ankle boot): 40 training and 60 validation images each (MIT licence).',
    folder: 'datasets/fashion-mnist-heldout/',
    files: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'classes.txt'],
  },
];

/** Absolute URL of a built-in set's folder: the worker resolves relative URLs against its own script, not the page. */
export function builtinBase(d: BuiltinDataset): string {
  return new URL(`${import.meta.env.BASE_URL}${d.folder}`, window.location.href).href;
}
