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
        if (!(uncompressed >= 0 && uncompressed <= LIMITS.inflatedFileBytes)) throw bad(`a page of column ${name} claims ${uncompressed} bytes unpacked`);
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
