/**
 * The text tokenizer of a CLIP checkpoint: the Hub's tokenizer.json (with tokenizer_config.json
 * where present) read by @huggingface/tokenizers, a pure-JS implementation of the tokenizers
 * library's pipeline (normaliser, pre-tokeniser, BPE, post-processor). Rankscope adds only what
 * CLIPTokenizer's call with truncation adds: sequences longer than the text tower's positions
 * keep their first tokens and end with the end-of-text token.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { IoError } from './errors';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** The tokenizer files as loadCheckpoint found them. */
export interface TokenizerFiles {
  /** tokenizer.json parsed, or undefined when absent. */
  json?: unknown;
  config?: unknown;
  /** Why tokenizer.json could not be read (not JSON, …), naming the file. */
  error?: string;
  /** The files read, for the model summary. */
  files: string[];
}

export interface TextTokenizer {
  /** Token ids of one prompt with the start and end tokens, truncated to `maxLength`. */
  encode(text: string): number[];
  /** The tokens themselves (for showing what a prompt became). */
  tokens(text: string): string[];
  readonly vocabSize: number;
  readonly eosId: number;
  readonly bosId: number | undefined;
  readonly maxLength: number;
}

/**
 * Builds the tokenizer, or throws an IoError naming tokenizer.json and `where` when it is
 * missing or unusable. `maxLength`: the text tower's max_position_embeddings.
 */
export function textTokenizer(files: TokenizerFiles | undefined, where: string, maxLength: number): TextTokenizer {
  if (files?.error) throw new IoError('format', files.error, TOKENIZER_FILE);
  if (!files?.json) {
    throw new IoError(
      'not-found',
      `${where} has no ${TOKENIZER_FILE}, which zero-shot classification needs to turn class names into tokens. ` +
        `Full CLIP checkpoints on the Hub carry it next to config.json (e.g. openai/clip-vit-base-patch32); add it to the folder.`,
      TOKENIZER_FILE,
    );
  }
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(files.json as object, (files.config ?? {}) as object);
  } catch (e) {
    throw new IoError('format', `${TOKENIZER_FILE} in ${where} could not be read as a tokenizer (${(e as Error).message}). Download it again.`, TOKENIZER_FILE, { cause: e });
  }
  const eos = findSpecial(tok, ['<|endoftext|>', '</s>']);
  if (eos === undefined) {
    throw new IoError('format', `${TOKENIZER_FILE} in ${where} has no end-of-text token (<|endoftext|>); it is not a CLIP tokenizer.`, TOKENIZER_FILE);
  }
  const bos = findSpecial(tok, ['<|startoftext|>', '<s>']);
  const vocabSize = tok.get_vocab(true).size;
  return {
    vocabSize,
    eosId: eos,
    bosId: bos,
    maxLength,
    encode(text: string): number[] {
      const ids = tok.encode(text).ids;
      if (ids.length <= maxLength) return ids;
      return [...ids.slice(0, maxLength - 1), eos];
    },
    tokens(text: string): string[] {
      return tok.encode(text).tokens;
    },
  };
}

function findSpecial(tok: Tokenizer, names: string[]): number | undefined {
  for (const n of names) {
    const id = tok.token_to_id(n);
    if (id !== undefined) return id;
  }
  return undefined;
}
