/**
 * The io layer for the page, workers and Node alike: nothing here imports Node modules or
 * touches window, document or navigator. Node-only pieces (folders on disk, the filesystem
 * cache, pure-JS image decoding) are in ./node.
 */
export * from './errors';
export * from './dtype';
export * from './safetensors';
export * from './source';
export * from './download';
export * from './preprocessor';
export * from './checkpoint';
export * from './cache/blobCache';
export * from './cache/indexedDbBlobCache';
export * from './sources/hub';
export * from './sources/droppedFiles';
export * from './sources/memory';
export * from './datasets/types';
export * from './datasets/idx';
export * from './datasets/imageFormat';
export * from './datasets/imageFolder';
export * from './datasets/load';
export * from './datasets/split';
export * from './peft';
export * from './datasets/zip';
export * from './datasets/tar';
export * from './datasets/cifar';
export * from './datasets/parquet';
export * from './tokenizer';
