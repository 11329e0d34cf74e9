/**
 * A small but complete CLIP tokenizer.json in the layout transformers' CLIPTokenizerFast saves
 * (tokenizers' JSON: NFC + whitespace folding + lowercase normaliser, CLIP's split regex and
 * byte-level pre-tokeniser, BPE with "</w>" word ends, RobertaProcessing adding
 * <|startoftext|> … <|endoftext|>). Its vocabulary is laid out like OpenAI's: the 256 byte
 * symbols, the same with "</w>", then one token per merge, then the two special tokens last, so
 * the end-of-text id is the largest (transformers pools legacy CLIP checkpoints at the argmax of
 * the ids). Every byte has a symbol, so any text — accents, emoji, unknown words — tokenises.
 * The merges are learned by plain BPE from a fixed word list, so the file is the same every time.
 */

/** GPT-2 / CLIP's reversible byte → printable character map. */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + n++);
  return map;
}

export const BOS_TOKEN = '<|startoftext|>';
export const EOS_TOKEN = '<|endoftext|>';

/** Words the merges are learned from: prompt words and the class names the tests and demos use. */
const CORPUS =
  'a photo of the an itap bad good small large bright dark cropped close-up drawing painting sketch rendering ' +
  't-shirt top trouser pullover dress coat sandal shirt sneaker bag ankle boot cat dog airplane automobile bird deer frog horse ship truck ' +
  'photo photo photo of of of a a a the the the';

const SPLIT_REGEX = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

function learnMerges(words: string[], count: number, byteSym: string[]): [string, string][] {
  const enc = new TextEncoder();
  const freq = new Map<string, number>();
  for (const w of words) freq.set(w, (freq.get(w) ?? 0) + 1);
  let seqs = [...freq].map(([w, f]) => {
    const syms = Array.from(enc.encode(w), (b) => byteSym[b]);
    syms[syms.length - 1] += '</w>';
    return { syms, f };
  });
  const merges: [string, string][] = [];
  for (let k = 0; k < count; k++) {
    const pairs = new Map<string, number>();
    for (const { syms, f } of seqs) for (let i = 0; i + 1 < syms.length; i++) {
      const key = `${syms[i]} ${syms[i + 1]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + f);
    }
    // Most frequent pair; ties broken by the pair's text, so the result never depends on Map order.
    let best: string | undefined;
    for (const [p, n] of pairs) if (best === undefined || n > pairs.get(best)! || (n === pairs.get(best)! && p < best)) best = p;
    if (!best) break;
    const [l, r] = best.split(' ');
    merges.push([l, r]);
    seqs = seqs.map(({ syms, f }) => {
      const out: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === l && syms[i + 1] === r) {
          out.push(l + r);
          i++;
        } else out.push(syms[i]);
      }
      return { syms: out, f };
    });
  }
  return merges;
}

/** tokenizer.json (as an object) and its vocabulary size; `merges` caps how many merges are learned. */
export function makeClipTokenizer(merges = 120): { tokenizer: Record<string, unknown>; config: Record<string, unknown>; vocabSize: number; bosId: number; eosId: number } {
  const byteSym = bytesToUnicode();
  const vocab: Record<string, number> = {};
  const add = (t: string) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  // OpenAI's order: the printable bytes first (as bytes_to_unicode lists them), then the rest.
  const order = [...byteSym].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  for (const s of order) add(s);
  for (const s of order) add(`${s}</w>`);
  const words = CORPUS.toLowerCase().match(/[\p{L}]+|[^\s\p{L}\p{N}]+/gu) ?? [];
  const learned = learnMerges(words, merges, byteSym);
  for (const [l, r] of learned) add(l + r);
  const bosId = Object.keys(vocab).length;
  add(BOS_TOKEN);
  const eosId = Object.keys(vocab).length;
  add(EOS_TOKEN);
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(bosId, BOS_TOKEN), special(eosId, EOS_TOKEN)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: SPLIT_REGEX }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [EOS_TOKEN, eosId], cls: [BOS_TOKEN, bosId], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS_TOKEN,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: learned.map(([l, r]) => `${l} ${r}`),
    },
  };
  // tokenizer_config.json as CLIPTokenizer saves it (the fields tokenizer libraries read).
  const config = {
    add_prefix_space: false,
    bos_token: BOS_TOKEN,
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: EOS_TOKEN,
    errors: 'replace',
    model_max_length: 77,
    pad_token: EOS_TOKEN,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: EOS_TOKEN,
  };
  return { tokenizer, config, vocabSize: Object.keys(vocab).length, bosId, eosId };
}
