/**
 * Walks the page headers of a parquet file's column chunks before hyparquet decodes them, and
 * refuses counts and sizes no intact file has. hyparquet trusts a page's value count: a damaged
 * header claiming two billion values made it loop for minutes over a 700-byte file (found by the
 * fuzz tests), and reading runs in the lab worker, where a hang cannot be cancelled.
 */
import { parquetMetadata } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { IoError } from '../errors';
import { LIMITS } from '../limits';

/**
 * Walks a snappy stream's elements without writing anything and refuses one whose literal or
 * copy lengths run past the input or the page size: hyparquet's decoder trusts them, and a
 * damaged 4-byte literal length made it spin through billions of ignored writes.
 */
export function snappyFits(input: Uint8Array, outputLength: number): boolean {
  let pos = 0;
  while (pos < input.length && input[pos] >= 128) pos++; // the preamble: uncompressed length as a varint
  pos++;
  let out = 0;
  while (pos < input.length) {
    const c = input[pos++];
    const type = c & 3;
    let len: number;
    if (type === 0) {
      len = c >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (pos + extra > input.length) return false;
        len = 0;
        for (let i = 0; i < extra; i++) len += input[pos + i] * 2 ** (8 * i);
        pos += extra;
      }
      len += 1;
      if (pos + len > input.length || out + len > outputLength) return false;
      pos += len;
    } else {
      const offsetBytes = type === 1 ? 1 : type === 2 ? 2 : 4;
      if (pos + offsetBytes > input.length) return false;
      let offset = 0;
      for (let i = 0; i < offsetBytes; i++) offset += input[pos + i] * 2 ** (8 * i);
      pos += offsetBytes;
      if (type === 1) {
        len = ((c >>> 2) & 7) + 4;
        offset += (c >>> 5) << 8;
      } else len = (c >>> 2) + 1;
      if (offset < 1 || offset > out || out + len > outputLength) return false;
    }
    out += len;
  }
  return out === outputLength;
}

/** More rows than any image set a browser tab can hold (ImageNet-21k has 14 million). */
export const MAX_PARQUET_ROWS = 50_000_000;

export function checkParquetPages(buffer: ArrayBuffer, file: string): void {
  const bad = (what: string) => new IoError('format', `${file} is damaged: ${what}. Download it again.`, file);
  let meta;
  try {
    meta = parquetMetadata(buffer);
  } catch (e) {
    throw new IoError('format', `${file} is not a readable parquet file (${(e as Error).message}). Download it again.`, file, { cause: e });
  }
  // Dictionary and run-length encoding let a small file hold many rows, so the row count alone
  // cannot be checked against the file's size; past this many a set could not load in a tab anyway.
  const maxRows = MAX_PARQUET_ROWS;
  let rows = 0;
  for (const [g, group] of meta.row_groups.entries()) {
    const groupRows = Number(group.num_rows);
    rows += groupRows;
    if (!(groupRows >= 0) || rows > maxRows) throw bad(`row group ${g} claims ${groupRows} rows, ${rows} in all (Rankscope reads up to ${MAX_PARQUET_ROWS})`);
    for (const column of group.columns) {
      const m = column.meta_data;
      if (!m) continue;
      const name = m.path_in_schema.join('.');
      const start = Number(m.dictionary_page_offset ?? m.data_page_offset);
      const size = Number(m.total_compressed_size);
      const values = Number(m.num_values);
      if (!(start >= 0 && size >= 0 && start + size <= buffer.byteLength)) throw bad(`column ${name} of row group ${g} lies outside the file`);
      if (!(values >= 0 && values <= Math.max(maxRows, 4 * groupRows))) throw bad(`column ${name} of row group ${g} claims ${values} values`);
      const reader = { view: new DataView(buffer, start, size), offset: 0 };
      let dataValues = 0;
      while (reader.offset < size - 1) {
        let h;
        try {
          h = parquetHeader(reader);
        } catch (e) {
          throw bad(`a page header of column ${name} does not parse (${(e as Error).message})`);
        }
        const compressed = h.compressed_page_size;
        const uncompressed = h.uncompressed_page_size;
        if (!(compressed >= 0 && reader.offset + compressed <= size)) throw bad(`a page of column ${name} runs past its column chunk`);
        // Snappy expands at most about 21-fold (a 3-byte copy of 64 bytes); allocating what a
        // damaged header claims would cost seconds and hundreds of megabytes.
        const maxUnpacked = Math.min(LIMITS.inflatedFileBytes, Math.max(1 << 16, 64 * compressed));
        if (!(uncompressed >= 0 && uncompressed <= maxUnpacked)) throw bad(`a page of column ${name} claims ${uncompressed} bytes unpacked from ${compressed}`);
        const v2 = h.data_page_header_v2;
        const count = h.data_page_header?.num_values ?? v2?.num_values ?? h.dictionary_page_header?.num_values ?? 0;
        if (!(count >= 0 && count <= values)) throw bad(`a page of column ${name} claims ${count} values, past the chunk's ${values}`);
        if (v2) {
          const levels = v2.definition_levels_byte_length + v2.repetition_levels_byte_length;
          if (!(v2.num_rows >= 0 && v2.num_rows <= groupRows && v2.num_nulls >= 0 && v2.num_nulls <= count && levels >= 0 && levels <= compressed)) {
            throw bad(`a page header of column ${name} has inconsistent counts`);
          }
        }
        // Decompressed here, synchronously: inside hyparquet a failure lands in one of several
        // promises, and the ones nobody awaits end a Node process as unhandled rejections.
        const page = new Uint8Array(buffer, start + reader.offset, compressed);
        const levels = v2 ? v2.definition_levels_byte_length + v2.repetition_levels_byte_length : 0;
        if (m.codec !== 'UNCOMPRESSED' && (!v2 || v2.is_compressed !== false)) {
          if (levels > uncompressed) throw bad(`a page header of column ${name} has inconsistent sizes`);
          if (m.codec === 'SNAPPY' && !snappyFits(page.subarray(levels), uncompressed - levels)) {
            throw bad(`a page of column ${name} is not intact snappy data`);
          }
          try {
            decompressPage(page.subarray(levels), uncompressed - levels, m.codec, undefined);
          } catch (e) {
            throw bad(`a page of column ${name} does not decompress (${(e as Error).message})`);
          }
        }
        if (h.type !== 'DICTIONARY_PAGE') dataValues += count;
        if (dataValues > values) throw bad(`the pages of column ${name} hold more values than its metadata says`);
        reader.offset += compressed;
      }
    }
  }
}
