import { describe, expect, it } from 'vitest';
import { IoError } from '../../io/errors';
import { HubSource } from '../../io/sources/hub';
import { loadCheckpoint, pickleRefusal } from '../../io/checkpoint';
import { describeModelError } from './errors';

/** What comlink hands the page: a plain Error with the worker error's name and message. */
function acrossWorker(e: Error): Error {
  return Object.assign(new Error(e.message), { name: e.name, message: e.message });
}

function hubAnswering(status: number, code?: string): HubSource {
  const fetch = async () => new Response('{}', { status, headers: code ? { 'x-error-code': code } : {} });
  return new HubSource('owner/model', { fetch: fetch as typeof globalThis.fetch });
}

async function failure(source: HubSource): Promise<Error> {
  try {
    await loadCheckpoint(source);
  } catch (e) {
    return acrossWorker(e as Error);
  }
  throw new Error('the load did not fail');
}

describe('model load errors', () => {
  it('tells the Hub’s answers apart from their messages alone', async () => {
    expect(describeModelError(await failure(hubAnswering(404, 'RepoNotFound')))).toMatchObject({ kind: 'not-found', title: 'Model not found' });
    expect(describeModelError(await failure(hubAnswering(401, 'GatedRepo'))).kind).toBe('unauthorized');
    expect(describeModelError(await failure(hubAnswering(401, 'GatedRepo'))).title).toBe('The Hub refused access');
    expect(describeModelError(await failure(hubAnswering(401)))).toMatchObject({ kind: 'unauthorized', title: 'Not found, or not public' });
    expect(describeModelError(await failure(hubAnswering(403))).kind).toBe('unauthorized');
    const offline = new HubSource('owner/model', { fetch: (async () => Promise.reject(new TypeError('Failed to fetch'))) as typeof fetch });
    expect(describeModelError(await failure(offline)).kind).toBe('network');
  });

  it('recognises pickle-only checkpoints, cancels and bad ids', () => {
    const source = new HubSource('owner/model');
    expect(describeModelError(acrossWorker(pickleRefusal(source, ['pytorch_model.bin']))).kind).toBe('pickle');
    const cancel = describeModelError(acrossWorker(new IoError('aborted', 'Loading model.safetensors from x was cancelled.')));
    expect(cancel.kind).toBe('cancelled');
    let bad: Error | undefined;
    try {
      new HubSource('not an id');
    } catch (e) {
      bad = e as Error;
    }
    expect(describeModelError(acrossWorker(bad!))).toMatchObject({ kind: 'format' });
  });

  it('keeps the loader’s own message, which names the file and says what to do', () => {
    const e = describeModelError(new Error('config.json in folder x has "model_type": "bert", which Rankscope does not support.'));
    expect(e.message).toContain('config.json');
  });
});
