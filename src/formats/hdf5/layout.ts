import * as zlib from 'node:zlib';
import { UNDEF } from './io';
import type { Cursor, H5Context } from './io';
import { walkV1BTree } from './heaps';

/** Where a dataset's elements are stored (data layout message, versions 3 and 4). */
export type Layout =
	| {
		readonly kind: 'compact';
		/** Absolute file offset of the data inside the object header. */
		readonly offset: number;
		readonly size: number;
		/** In a version 2 header: the checksummed header chunk holding the data (checksum at `end`). */
		readonly checksummed?: { readonly start: number; readonly end: number };
	}
	| { readonly kind: 'contiguous'; readonly address: number; readonly size: number }
	| {
		readonly kind: 'chunked';
		/** Chunk shape in elements (the dataset's rank). */
		readonly chunk: readonly number[];
		readonly index: 'btree1' | 'single' | 'implicit' | 'fixed-array' | 'extensible-array' | 'btree2';
		readonly address: number;
		/** Single-chunk index of a filtered dataset: the stored chunk's size and filter mask. */
		readonly single?: { readonly size: number; readonly mask: number };
	};

/** One filter of a pipeline: 1 deflate, 2 shuffle, 3 fletcher32 are decoded. */
export interface Filter {
	readonly id: number;
	readonly values: readonly number[];
}

/** One stored chunk: its first element's coordinates and its bytes in the file. */
export interface Chunk {
	readonly coords: readonly number[];
	/** Absolute file offset. */
	readonly offset: number;
	readonly size: number;
	/** Bit i set: filter i was not applied to this chunk. */
	readonly mask: number;
}

const indexNames = [undefined, 'single', 'implicit', 'fixed-array', 'extensible-array', 'btree2'] as const;

/** Decodes a data layout message for a dataset of rank `rank` and element size `elementSize`. */
export function parseLayout(c: Cursor, rank: number, elementSize: number): Layout {
	const { ctx } = c;
	const version = c.u8();
	if (version !== 3 && version !== 4) throw ctx.unsupported(`data layout version ${version}`);
	const kind = c.u8();
	if (kind === 0) {
		const size = c.u16();
		return { kind: 'compact', offset: c.fileOffset + c.pos, size: c.take(size).length };
	}
	if (kind === 1) return { kind: 'contiguous', address: c.offset(), size: c.length() };
	if (kind !== 2) throw ctx.unsupported(kind === 3 ? 'a virtual dataset' : `data layout class ${kind}`);
	const check = (dims: number[]): number[] => {
		if (dims.length !== rank + 1 || dims[rank] !== elementSize || dims.some((d) => d === 0) || dims.reduce((a, b) => a * b, 1) > 2 ** 32) {
			throw ctx.corrupt(`a chunked layout of ${dims.length - 1} dimensions (${dims.join('×')}) does not fit its dataset`);
		}
		return dims.slice(0, rank);
	};
	if (version === 3) {
		const ndims = c.u8();
		const address = c.offset();
		const dims = Array.from({ length: ndims }, () => c.u32());
		return { kind: 'chunked', chunk: check(dims), index: 'btree1', address };
	}
	const flags = c.u8();
	const ndims = c.u8();
	const width = c.u8();
	if (width < 1 || width > 8) throw ctx.corrupt(`chunk dimensions of ${width} bytes`);
	const chunk = check(Array.from({ length: ndims }, () => c.uint(width)));
	const type = c.u8();
	const index = indexNames[type];
	if (!index) throw ctx.corrupt(`chunk index type ${type}`);
	let single: { size: number; mask: number } | undefined;
	if (type === 1 && flags & 2) {
		single = { size: c.length(), mask: c.u32() };
	}
	c.skip([0, 0, 0, 1, 5, 6][type]);
	return { kind: 'chunked', chunk, index, address: c.offset(), single };
}

/** Decodes a filter pipeline message (versions 1 and 2). */
export function parseFilters(c: Cursor): Filter[] {
	const version = c.u8();
	const count = c.u8();
	if (version === 1) {
		c.skip(6);
	}
	const filters: Filter[] = [];
	for (let i = 0; i < count; i++) {
		const id = c.u16();
		const nameLength = version === 1 || id >= 256 ? c.u16() : 0;
		c.skip(2);
		const nValues = c.u16();
		c.skip(version === 1 ? (nameLength + 7) & ~7 : nameLength);
		filters.push({ id, values: Array.from({ length: nValues }, () => c.u32()) });
		if (version === 1 && nValues % 2) {
			c.skip(4);
		}
	}
	return filters;
}

const filterNames: Record<number, string> = { 4: 'szip', 5: 'nbit', 6: 'scale-offset', 32000: 'lzf', 32001: 'blosc', 32004: 'lz4', 32008: 'bitshuffle', 32015: 'zstd' };

/** Refuses filters other than deflate, shuffle and fletcher32 before any data is read. */
export function checkFilters(ctx: H5Context, filters: readonly Filter[], path: string): void {
	for (const f of filters) {
		if (f.id < 1 || f.id > 3) throw ctx.unsupported(`dataset '${path}' is compressed with the ${filterNames[f.id] ?? `#${f.id}`} filter`);
	}
}

/** Undoes the filters (in reverse order, skipping those set in `mask`) of one stored chunk. */
export function unfilter(ctx: H5Context, data: Uint8Array, filters: readonly Filter[], mask: number, chunkBytes: number, elementSize: number): Uint8Array {
	for (let i = filters.length - 1; i >= 0; i--) {
		if (mask & (1 << i)) continue;
		const { id } = filters[i];
		if (id === 1) {
			try {
				data = zlib.inflateSync(data, { maxOutputLength: Math.max(chunkBytes, 1) });
			} catch (ex) {
				throw ctx.corrupt(`a deflated chunk cannot be inflated (${(ex as Error).message.split('\n')[0]})`);
			}
		} else if (id === 2) {
			// Byte b of element e was stored at b·n + e; a tail shorter than an element is kept as is.
			const n = Math.floor(data.length / elementSize);
			const out = new Uint8Array(data.length);
			for (let b = 0; b < elementSize; b++) {
				for (let e = 0; e < n; e++) {
					out[e * elementSize + b] = data[b * n + e];
				}
			}
			out.set(data.subarray(n * elementSize), n * elementSize);
			data = out;
		} else if (id === 3) {
			data = data.subarray(0, Math.max(0, data.length - 4));
		}
	}
	return data;
}

/** Number of chunks along each dimension. */
function grid(shape: readonly number[], chunk: readonly number[]): number[] {
	return shape.map((d, i) => Math.ceil(d / chunk[i]));
}

/** Every stored chunk of a chunked dataset (unallocated chunks are absent). */
export async function listChunks(ctx: H5Context, layout: Extract<Layout, { kind: 'chunked' }>, shape: readonly number[], elementSize: number, filtered: boolean): Promise<Chunk[]> {
	const chunkBytes = layout.chunk.reduce((a, b) => a * b, elementSize);
	const counts = grid(shape, layout.chunk);
	const total = counts.reduce((a, b) => a * b, 1);
	const coordsOf = (i: number): number[] => {
		const coords = new Array<number>(shape.length);
		for (let d = shape.length - 1; d >= 0; d--) {
			coords[d] = (i % counts[d]) * layout.chunk[d];
			i = Math.floor(i / counts[d]);
		}
		return coords;
	};
	const at = (address: number, size: number): number => ctx.inFile(ctx.abs(address, 'a chunk'), size, 'a chunk');
	const chunks: Chunk[] = [];
	if (layout.address === UNDEF || total === 0) return chunks;
	switch (layout.index) {
		case 'btree1': {
			const rank = shape.length;
			await walkV1BTree(ctx, layout.address, 1, 8 + 8 * (rank + 1), (key, child) => {
				const size = key.u32();
				const mask = key.u32();
				const coords = Array.from({ length: rank }, () => key.uint(8));
				if (coords.some((x, d) => x % layout.chunk[d] !== 0)) throw ctx.corrupt(`a chunk starts at ${coords.join(',')}, off the chunk grid`);
				if (coords.every((x, d) => x < shape[d])) {
					chunks.push({ coords, offset: at(child, size), size, mask });
				}
			});
			return chunks;
		}
		case 'single': {
			const size = layout.single?.size ?? chunkBytes;
			return [{ coords: shape.map(() => 0), offset: at(layout.address, size), size, mask: layout.single?.mask ?? 0 }];
		}
		case 'implicit':
			for (let i = 0; i < total; i++) {
				chunks.push({ coords: coordsOf(i), offset: at(layout.address + i * chunkBytes, chunkBytes), size: chunkBytes, mask: 0 });
			}
			return chunks;
		case 'fixed-array':
			return fixedArrayChunks(ctx, layout.address, total, chunkBytes, filtered, (i, address, size, mask) => {
				chunks.push({ coords: coordsOf(i), offset: at(address, size), size, mask });
			}).then(() => chunks);
		default:
			throw ctx.unsupported(`a chunked dataset indexed by a${layout.index === 'btree2' ? ' version 2 B-tree' : 'n extensible array'} (a resizable dataset)`);
	}
}

/** Reads a fixed array chunk index ('FAHD'/'FADB', paged or not). */
async function fixedArrayChunks(ctx: H5Context, address: number, total: number, chunkBytes: number, filtered: boolean, add: (i: number, address: number, size: number, mask: number) => void): Promise<void> {
	const head = await ctx.cursor(address, 12 + ctx.offsetSize + ctx.lengthSize, 'a fixed array header');
	head.signature('FAHD').skip(1);
	const client = head.u8();
	const entrySize = head.u8();
	const pageBits = head.u8();
	const entries = head.length();
	const block = head.offset();
	const minEntry = ctx.offsetSize + (client === 1 ? 5 : 0);
	if (client !== (filtered ? 1 : 0) || entrySize < minEntry || entries < total || pageBits > 32 || block === UNDEF) {
		throw ctx.corrupt(`the fixed array chunk index at ${address} does not fit its dataset`);
	}
	const pageEntries = 2 ** pageBits;
	const pages = entries > pageEntries ? Math.ceil(entries / pageEntries) : 0;
	const prefix = 6 + ctx.offsetSize + (pages ? Math.ceil(pages / 8) + 4 : 0);
	const data = await ctx.cursor(block, prefix + entries * entrySize + pages * 4, 'a fixed array data block');
	data.signature('FADB').skip(prefix - 4);
	const initialised = data.bytes.subarray(6 + ctx.offsetSize);
	for (let i = 0; i < total; i++) {
		if (pages && i > 0 && i % pageEntries === 0) {
			data.skip(4);
		}
		const entry = data.sub(entrySize);
		const page = Math.floor(i / pageEntries);
		const chunk = pages && !(initialised[page >> 3] & (0x80 >> (page & 7))) ? UNDEF : entry.offset();
		const size = client === 1 ? entry.uint(entrySize - ctx.offsetSize - 4) : chunkBytes;
		const mask = client === 1 ? entry.u32() : 0;
		if (chunk !== UNDEF) {
			add(i, chunk, size, mask);
		}
	}
}

/**
 * Calls `run(chunkElement, datasetElement, length)` for each row of a chunk (last dimension)
 * that lies inside the dataset; element indices are row-major in the chunk and the dataset.
 */
export function chunkRuns(shape: readonly number[], chunk: readonly number[], coords: readonly number[], run: (inChunk: number, inDataset: number, length: number) => void): void {
	const rank = shape.length;
	const extent = chunk.map((c, d) => Math.min(c, shape[d] - coords[d]));
	if (extent.some((e) => e <= 0)) return;
	const index = new Array<number>(rank).fill(0);
	for (;;) {
		let inChunk = 0;
		let inDataset = 0;
		for (let d = 0; d < rank; d++) {
			inChunk = inChunk * chunk[d] + index[d];
			inDataset = inDataset * shape[d] + coords[d] + index[d];
		}
		run(inChunk, inDataset, extent[rank - 1]);
		let d = rank - 2;
		while (d >= 0 && ++index[d] >= extent[d]) {
			index[d--] = 0;
		}
		if (d < 0) return;
	}
}
