import { useEffect, useRef, useState, type DragEvent } from 'react';
import type { LoadProgressEvent } from '../../session/protocol';
import { BUILTIN_DATASETS, type BuiltinDataset } from './builtin';
import { fromDrop, fromFileList, type PickedFiles } from './files';

/**
 * Where images come from: the built-in set, or files a person drops or picks (a folder of class
 * folders, a zip or tar of one, IDX files, CIFAR binary batches, Hub parquet files).
 */
export function SourcePicker({
  ready,
  waiting,
  loading,
  progress,
  onBuiltin,
  onFiles,
  onCancel,
}: {
  ready: boolean;
  waiting?: string;
  loading: boolean;
  progress?: LoadProgressEvent;
  onBuiltin: (d: BuiltinDataset) => void;
  onFiles: (p: PickedFiles) => void;
  onCancel: () => void;
}) {
  const folderInput = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [dropError, setDropError] = useState<string>();
  useEffect(() => {
    // Not a React prop: set on the element so the picker chooses folders.
    folderInput.current?.setAttribute('webkitdirectory', '');
  }, []);
  const disabled = !ready || loading;

  const drop = async (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setOver(false);
    if (disabled) return;
    setDropError(undefined);
    try {
      const picked = await fromDrop(e.dataTransfer);
      if (picked.files.length === 0) setDropError('Nothing to load was dropped: drop image folders or data set files from your computer.');
      else onFiles(picked);
    } catch (err) {
      setDropError(`The dropped files could not be read (${(err as Error).message}). Try the “Choose files” or “Choose folder” buttons instead.`);
    }
  };
  const picked = (list: FileList | null, input: HTMLInputElement) => {
    if (list && list.length > 0) onFiles(fromFileList(list));
    input.value = ''; // picking the same file again loads it again
  };

  return (
    <div className="data-source">
      <div className="builtin-row">
        {BUILTIN_DATASETS.map((d) => (
          <div key={d.id} className="builtin">
            <button type="button" onClick={() => onBuiltin(d)} disabled={disabled} data-testid={`dataset-builtin-${d.id}`}>
              Built-in: {d.label}
            </button>
            <span className="muted">{d.description} Works offline.</span>
          </div>
        ))}
      </div>
      <div
        className={`dropzone${over ? ' dropzone-over' : ''}${disabled ? ' dropzone-disabled' : ''}`}
        data-testid="dataset-dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          if (!disabled) setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => void drop(e)}
      >
        <p>
          <strong>Drop your data set here</strong>: a folder with one subfolder of images per class, a zip of one, MNIST-style IDX files, CIFAR-10/100
          binary batches (or the .tar.gz you downloaded), or a Hugging Face data set’s parquet files.
        </p>
        <div className="dropzone-buttons">
          <label className={`file-button${disabled ? ' disabled' : ''}`}>
            Choose files…
            <input type="file" multiple disabled={disabled} data-testid="dataset-files-input" onChange={(e) => picked(e.target.files, e.target)} />
          </label>
          <label className={`file-button${disabled ? ' disabled' : ''}`}>
            Choose folder…
            <input ref={folderInput} type="file" multiple disabled={disabled} data-testid="dataset-folder-input" onChange={(e) => picked(e.target.files, e.target)} />
          </label>
        </div>
      </div>
      {waiting && (
        <p className="muted" data-testid="dataset-waiting">
          {waiting}
        </p>
      )}
      {dropError && (
        <p className="notice notice-error" role="alert">
          {dropError}
        </p>
      )}
      {loading && (
        <div className="data-progress" data-testid="dataset-progress">
          <progress value={progress?.total ? progress.done : undefined} max={progress?.total || undefined} />
          <span className="muted">
            {progress ? `${progress.total ? `${progress.done.toLocaleString('en-US')} / ${progress.total.toLocaleString('en-US')}: ` : ''}${progress.file}` : 'Reading…'}
          </span>
          <button type="button" onClick={onCancel} data-testid="dataset-cancel">
            Cancel
          </button>
        </div>
      )}
    </div>
  );
}
