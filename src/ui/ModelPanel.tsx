import { useEffect, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { useLabDevice } from './lab';
import { CacheManager } from './model/CacheManager';
import { filesFromDrop, filesFromPicker } from './model/folderInput';
import { LoadProgress } from './model/LoadProgress';
import { ModelSummary } from './model/ModelSummary';
import { cancelModelLoad, markLabReady, requestModel } from './model/loader';
import { HUB_PRESETS } from './model/presets';
import { describeOrigin, useModelStore } from './state/modelStore';
import { useRunStore } from './state/runStore';
import { installUrlState } from './urlState';
import './model/model.css';

// Settings from a shared link go into the stores before the first render.
installUrlState();

/**
 * Choose the model to fine-tune: a Hub preset, any Hub model id, or a checkpoint folder from this
 * computer. Shows download progress, what went wrong, what was loaded, and the download cache.
 */
export function ModelPanel() {
  const device = useLabDevice();
  const ready = device.isSuccess;
  useEffect(() => {
    if (ready) markLabReady();
  }, [ready]);

  const { info, loaded, status, current, progress, error, offer } = useModelStore();
  const busy = status === 'loading' || status === 'waiting';
  const [id, setId] = useState(offer ?? '');
  const [token, setToken] = useState('');
  const [showToken, setShowToken] = useState(false);
  const tokenRef = useRef<HTMLInputElement>(null);
  const activeRuns = useRunStore((s) => Object.values(s.runs).some((r) => ['queued', 'loading', 'training', 'paused'].includes(r.state)));

  const loadHub = (modelId: string) => {
    const trimmed = modelId.trim();
    if (!trimmed) return;
    setId(trimmed);
    requestModel({ kind: 'hub', id: trimmed, token: token.trim() || undefined });
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    loadHub(id);
  };

  useEffect(() => {
    if (error?.kind === 'unauthorized') {
      setShowToken(true);
      tokenRef.current?.focus();
    }
  }, [error]);

  return (
    <section className="panel" aria-labelledby="model-panel-title" data-testid="model-panel" data-status={status}>
      <h2 id="model-panel-title">Model</h2>
      <p className="muted panel-intro">
        The pretrained backbone every run starts from. Pick a small model from the Hugging Face Hub, type any ViT, DeiT or
        CLIP model id, or open a checkpoint folder (config.json and model.safetensors) from this computer.
      </p>

      {device.isPending && (
        <p className="muted" data-testid="model-gpu-wait">
          Starting the GPU in the lab worker… Loading works once it is ready.
        </p>
      )}
      {device.isError && (
        <p className="notice notice-error" role="alert" data-testid="model-gpu-error">
          Models load into the GPU, which the lab could not start: {device.error.message} See the GPU panel for what to do.
        </p>
      )}

      {offer && !(loaded?.kind === 'hub' && loaded.id === offer) && (
        <div className="notice notice-info" data-testid="model-offer" data-id={offer}>
          <p>
            This link was shared with the Hub model <code>{offer}</code>. It is not downloaded until you ask.
          </p>
          <button type="button" data-testid="model-offer-load" disabled={busy} onClick={() => loadHub(offer)}>
            Load {offer}
          </button>{' '}
          <button type="button" onClick={() => useModelStore.getState().setOffer(undefined)}>
            Not now
          </button>
        </div>
      )}

      <h3>From the Hugging Face Hub</h3>
      <table className="limits model-presets" data-testid="model-presets">
        <thead>
          <tr>
            <th scope="col">Preset</th>
            <th scope="col">Parameters</th>
            <th scope="col">Download</th>
            <th scope="col" aria-label="load" />
          </tr>
        </thead>
        <tbody>
          {HUB_PRESETS.map((p) => (
            <tr key={p.id} data-testid="model-preset" data-id={p.id}>
              <th scope="row">
                <code>{p.id}</code>
                <div className="muted field-help">{p.note}</div>
              </th>
              <td>{p.params}</td>
              <td>{p.download}</td>
              <td>
                <button type="button" disabled={busy} onClick={() => loadHub(p.id)}>
                  Load
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <form className="model-id-form" onSubmit={submit}>
        <label htmlFor="model-id">Model id</label>
        <input
          id="model-id"
          data-testid="model-id-input"
          type="text"
          placeholder="owner/name, e.g. google/vit-base-patch16-224"
          value={id}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => setId(e.target.value)}
        />
        <button type="submit" data-testid="model-id-load" disabled={busy || !id.trim()}>
          Load
        </button>
      </form>
      <p className="muted field-help">
        Any image-classification ViT, DeiT or CLIP model with safetensors weights.{' '}
        <button type="button" className="link-button" onClick={() => setShowToken((v) => !v)}>
          {showToken ? 'Hide the access token' : 'Gated or private model? Add an access token'}
        </button>
      </p>
      {showToken && (
        <div className="model-token">
          <label htmlFor="model-token">Hub access token</label>
          <input
            id="model-token"
            ref={tokenRef}
            data-testid="model-token"
            type="password"
            placeholder="hf_…"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
          <p className="muted field-help">
            A read token from huggingface.co/settings/tokens, sent only to the Hub with this download. It stays in this tab:
            never in the link, never saved.
          </p>
        </div>
      )}

      <h3>From this computer</h3>
      <FolderDrop disabled={busy} />

      {current && (status === 'loading' || status === 'waiting' || status === 'loaded' || progress.length > 0) && <LoadProgress origin={current} files={progress} status={status} onCancel={cancelModelLoad} />}

      {error && (status === 'failed' || status === 'cancelled') && (
        <div className={`notice ${error.kind === 'cancelled' ? 'notice-warn' : 'notice-error'}`} role="alert" data-testid="model-error" data-kind={error.kind}>
          <h3>{error.title}</h3>
          <p data-testid="model-error-message">{error.message}</p>
          {error.hint && <p>{error.hint}</p>}
          {error.kind === 'network' && current?.kind === 'hub' && (
            <button type="button" onClick={() => loadHub(current.id)}>
              Try again
            </button>
          )}
          {info && <p className="muted">The model loaded before, {loaded ? describeOrigin(loaded) : info.source}, is still the one in use.</p>}
        </div>
      )}

      {info && activeRuns && busy && (
        <p className="notice notice-warn" data-testid="model-runs-note">
          Runs waiting in the queue will train on the new model once it has loaded; finished runs keep their results.
        </p>
      )}

      {info && <ModelSummary info={info} origin={loaded} />}

      <CacheManager ready={ready} busy={busy} />
    </section>
  );
}

function FolderDrop({ disabled }: { disabled: boolean }) {
  const [over, setOver] = useState(false);
  const [problem, setProblem] = useState<string>();
  const pick = useRef<HTMLInputElement>(null);

  const load = (files: File[], what: string) => {
    if (files.length === 0) {
      setProblem(`${what} held no files. Choose the folder that contains config.json and model.safetensors.`);
      return;
    }
    setProblem(undefined);
    requestModel({ kind: 'files', files });
  };
  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (disabled) return;
    try {
      const { files, folder } = await filesFromDrop(e.dataTransfer);
      load(files, folder ? `The folder ${folder}` : 'The drop');
    } catch (err) {
      setProblem(`The dropped files could not be read (${(err as Error).message}). Try "Choose folder…" instead.`);
    }
  };

  return (
    <div
      className={`drop-zone${over ? ' drop-zone-over' : ''}`}
      data-testid="model-drop"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => void onDrop(e)}
    >
      <p>
        Drop a checkpoint folder here (config.json, model.safetensors, preprocessor_config.json), or{' '}
        <button type="button" disabled={disabled} onClick={() => pick.current?.click()}>
          Choose folder…
        </button>
      </p>
      <p className="muted field-help">The files are read in this browser; nothing is uploaded.</p>
      <input
        ref={(el) => {
          pick.current = el;
          el?.setAttribute('webkitdirectory', '');
        }}
        data-testid="model-folder-input"
        type="file"
        multiple
        hidden
        onChange={(e) => {
          const files = filesFromPicker(e.target.files);
          const folder = e.target.files?.[0]?.webkitRelativePath.split('/')[0];
          load(files, folder ? `The folder ${folder}` : 'The chosen folder');
          e.target.value = '';
        }}
      />
      {problem && (
        <p className="notice notice-error" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}
