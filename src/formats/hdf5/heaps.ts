import { Cursor, UNDEF, log2 } from './io';
import type { H5Context } from './io';

/** Bytes that hold any value up to `l` (the library's H5VM_limit_enc_size). */
function limitEncSize(l: number): number {
	return Math.floor(log2(l) / 8) + 1;
}

/** One object of a global heap collection (variable-length strings). Collections are cached. */
export async function globalHeapObject(ctx: H5Context, address: number, index: number): Promise<Uint8Array> {
	const objects = await ctx.cached(`gcol:${address}`, async () => {
		const head = await ctx.cursor(address, 8 + ctx.lengthSize, 'a global heap collection');
		head.signature('GCOL').skip(4);
		const c = await ctx.cursor(address, Math.max(head.length(), head.pos), 'a global heap collection');
		c.skip((head.pos + 7) & ~7);
		const found = new Map<number, Uint8Array>();
		while (c.left >= 8 + ctx.lengthSize) {
			const id = c.u16();
			c.skip(6);
			const size = c.length();
			if (id === 0) break;
			c.skip(-ctx.lengthSize & 7); // object headers are 8-byte aligned too
			found.set(id, c.take(size));
			c.skip(Math.min(c.left, -size & 7));
		}
		return found;
	});
	const object = objects.get(index);
	if (!object) throw ctx.corrupt(`global heap object ${index} at ${address} does not exist`);
	return object;
}

/** The data segment of a local heap (old-style group member names). */
export function localHeap(ctx: H5Context, address: number): Promise<Uint8Array> {
	return ctx.cached(`heap:${address}`, async () => {
		const c = await ctx.cursor(address, 8 + 2 * ctx.lengthSize + ctx.offsetSize, 'a local heap');
		c.signature('HEAP').skip(4);
		const size = c.length();
		c.length();
		return (await ctx.cursor(c.offset(), size, 'a local heap')).bytes;
	});
}

/** The NUL-terminated string at `offset` of a local heap's data. */
export function heapString(ctx: H5Context, data: Uint8Array, offset: number): string {
	const end = data.indexOf(0, offset);
	if (offset >= data.length || end < 0) throw ctx.corrupt(`a name lies outside its local heap`);
	return new TextDecoder().decode(data.subarray(offset, end));
}

/**
 * Walks a version 1 B-tree (group nodes: type 0, chunk index: type 1) in key order, calling
 * `visit` with each leaf entry's left key and child address. Levels must fall by one per step
 * and no node may be visited twice.
 */
export async function walkV1BTree(ctx: H5Context, address: number, nodeType: number, keySize: number, visit: (key: Cursor, child: number) => void): Promise<void> {
	const visited = new Set<number>();
	const walk = async (at: number, level: number | undefined): Promise<void> => {
		if (visited.has(at)) throw ctx.corrupt(`a B-tree node at ${at} is reached twice (the tree has a cycle)`);
		visited.add(at);
		const head = await ctx.cursor(at, 8 + 2 * ctx.offsetSize, 'a B-tree node');
		head.signature('TREE');
		const type = head.u8();
		const nodeLevel = head.u8();
		const entries = head.u16();
		if (type !== nodeType || (level !== undefined && nodeLevel !== level)) {
			throw ctx.corrupt(`the B-tree node at ${at} has type ${type} and level ${nodeLevel}, not those of its parent`);
		}
		const body = await ctx.cursor(at + head.bytes.length, entries * (keySize + ctx.offsetSize) + keySize, 'a B-tree node');
		for (let i = 0; i < entries; i++) {
			const key = body.sub(keySize);
			const child = body.offset();
			if (nodeLevel > 0) {
				await walk(child, nodeLevel - 1);
			} else {
				visit(key, child);
			}
		}
	};
	await walk(address, undefined);
}

/** Every record of a version 2 B-tree, in key order, as cursors over `recordSize` bytes. */
export async function v2BTreeRecords(ctx: H5Context, address: number): Promise<Cursor[]> {
	const head = await ctx.cursor(address, 16 + 2 * ctx.offsetSize + ctx.lengthSize, 'a v2 B-tree header');
	head.signature('BTHD').skip(2);
	const nodeSize = head.u32();
	const recordSize = head.u16();
	const depth = head.u16();
	head.skip(2);
	const root = head.offset();
	const rootRecords = head.u16();
	const total = head.length();
	if (recordSize === 0 || nodeSize < 10 + recordSize || depth > 16) throw ctx.corrupt(`a v2 B-tree at ${address} has impossible node sizes`);
	// Per-level record limits and the widths of the child-pointer counts (H5B2__hdr_init).
	const maxRecords = [Math.floor((nodeSize - 10) / recordSize)];
	const cumulative = [maxRecords[0]];
	const cumulativeSize = [0];
	const countSize = limitEncSize(maxRecords[0]);
	for (let d = 1; d <= depth; d++) {
		const pointer = ctx.offsetSize + countSize + (d > 1 ? cumulativeSize[d - 1] : 0);
		maxRecords.push(Math.floor((nodeSize - 10 - pointer) / (recordSize + pointer)));
		cumulative.push((maxRecords[d] + 1) * cumulative[d - 1] + maxRecords[d]);
		cumulativeSize.push(limitEncSize(cumulative[d]));
	}
	const records: Cursor[] = [];
	const visited = new Set<number>();
	const walk = async (at: number, count: number, d: number): Promise<void> => {
		if (visited.has(at) || count > maxRecords[d] || records.length + count > total) {
			throw ctx.corrupt(`a v2 B-tree node at ${at} is reached twice or holds too many records`);
		}
		visited.add(at);
		const c = await ctx.cursor(at, nodeSize, 'a v2 B-tree node');
		c.signature(d === 0 ? 'BTLF' : 'BTIN').skip(2);
		const own: Cursor[] = [];
		for (let i = 0; i < count; i++) {
			own.push(c.sub(recordSize, 'a v2 B-tree record'));
		}
		if (d === 0) {
			records.push(...own);
			return;
		}
		const children: [number, number][] = [];
		for (let i = 0; i <= count; i++) {
			children.push([c.offset(), c.uint(countSize)]);
			c.skip(d > 1 ? cumulativeSize[d - 1] : 0);
		}
		for (let i = 0; i <= count; i++) {
			await walk(children[i][0], children[i][1], d - 1);
			if (i < count) {
				records.push(own[i]);
			}
		}
	};
	if (root !== UNDEF && total > 0) {
		await walk(root, rootRecords, depth);
	}
	return records;
}

/**
 * A fractal heap (dense links and attributes): managed objects found by walking the doubling
 * table of direct and indirect blocks, huge objects through their own B-tree, tiny objects
 * inside the heap ID. Filtered heaps are refused.
 */
export class FractalHeap {
	private constructor(
		private readonly ctx: H5Context,
		readonly idLength: number,
		private readonly hugeTree: number,
		private readonly width: number,
		private readonly startBlock: number,
		private readonly maxDirectRows: number,
		private readonly root: number,
		private readonly rootRows: number,
		private readonly offsetBytes: number,
		private readonly lengthBytes: number,
		private readonly directHeader: number,
	) {}

	static open(ctx: H5Context, address: number): Promise<FractalHeap> {
		return ctx.cached(`frhp:${address}`, async () => {
			const c = await ctx.cursor(address, 22 + 12 * ctx.lengthSize + 3 * ctx.offsetSize, 'a fractal heap header');
			c.signature('FRHP').skip(1);
			const idLength = c.u16();
			const filterLength = c.u16();
			const flags = c.u8();
			const maxManaged = c.u32();
			c.length();
			const hugeTree = c.offset();
			c.skip(ctx.lengthSize).offset();
			c.skip(8 * ctx.lengthSize);
			const width = c.u16();
			const startBlock = c.length();
			const maxDirect = c.length();
			const maxHeapBits = c.u16();
			c.u16();
			const root = c.offset();
			const rootRows = c.u16();
			if (filterLength > 0) throw ctx.unsupported('a compressed fractal heap');
			const pow2 = (n: number): boolean => n > 0 && 2 ** log2(n) === n;
			if (!pow2(width) || !pow2(startBlock) || !pow2(maxDirect) || maxDirect < startBlock || maxHeapBits > 64 || idLength < 2 || rootRows > 64) {
				throw ctx.corrupt(`the fractal heap at ${address} has impossible block sizes`);
			}
			const offsetBytes = Math.ceil(maxHeapBits / 8);
			const lengthBytes = Math.min(Math.ceil(log2(maxDirect) / 8), limitEncSize(maxManaged));
			const maxDirectRows = log2(maxDirect) - log2(startBlock) + 2;
			const directHeader = 5 + ctx.offsetSize + offsetBytes + (flags & 2 ? 4 : 0);
			return new FractalHeap(ctx, idLength, hugeTree, width, startBlock, maxDirectRows, root, rootRows, offsetBytes, lengthBytes, directHeader);
		});
	}

	/** The bytes of the object with heap ID `id`. */
	async get(id: Uint8Array): Promise<Uint8Array> {
		const { ctx } = this;
		const c = new Cursor(ctx, id, 'a fractal heap ID');
		const flags = c.u8();
		switch ((flags >> 4) & 3) {
			case 0:
				return this.managed(c.uint(this.offsetBytes), c.uint(this.lengthBytes));
			case 1: {
				if (id.length >= 1 + ctx.offsetSize + ctx.lengthSize) {
					const at = c.offset();
					return (await ctx.cursor(at, c.length(), 'a huge heap object')).bytes;
				}
				const key = c.uint(Math.min(id.length - 1, ctx.lengthSize));
				for (const record of await v2BTreeRecords(ctx, this.hugeTree)) {
					const at = record.offset();
					const length = record.length();
					if (record.length() === key) return (await ctx.cursor(at, length, 'a huge heap object')).bytes;
				}
				throw ctx.corrupt(`huge heap object ${key} is missing`);
			}
			case 2: {
				const extended = id.length > 18;
				const length = (extended ? ((flags & 0x0f) << 8) | c.u8() : flags & 0x0f) + 1;
				return c.take(length);
			}
			default:
				throw ctx.corrupt('a fractal heap ID has an unknown type');
		}
	}

	private rowSize(row: number): number {
		return row === 0 ? this.startBlock : this.startBlock * 2 ** (row - 1);
	}

	private async managed(offset: number, length: number): Promise<Uint8Array> {
		const { ctx, width } = this;
		let at = this.root;
		let blockOffset = 0;
		let rows = this.rootRows;
		let size = this.startBlock;
		for (let depth = 0; rows > 0; depth++) {
			const relative = offset - blockOffset;
			const row = Array.from({ length: rows }, (_, r) => r).find((r) => relative < (r === 0 ? width * this.startBlock : 2 * width * this.rowSize(r)));
			if (depth > 32 || row === undefined || relative < 0) throw ctx.corrupt(`fractal heap offset ${offset} lies outside the heap`);
			const rowStart = row === 0 ? 0 : width * this.rowSize(row);
			const column = Math.floor((relative - rowStart) / this.rowSize(row));
			const headerBytes = 5 + ctx.offsetSize + this.offsetBytes;
			const block = await ctx.cursor(at, headerBytes + rows * width * ctx.offsetSize, 'a fractal heap indirect block');
			block.signature('FHIB').skip(headerBytes - 4 + (row * width + column) * ctx.offsetSize);
			at = block.offset();
			blockOffset += rowStart + column * this.rowSize(row);
			size = this.rowSize(row);
			rows = row < this.maxDirectRows ? 0 : log2(size) - log2(this.startBlock * width) + 1;
			if (at === UNDEF) throw ctx.corrupt(`fractal heap offset ${offset} lies in an unallocated block`);
		}
		const within = offset - blockOffset;
		if (within < this.directHeader || within + length > size) throw ctx.corrupt(`a fractal heap object (${offset}, ${length} bytes) crosses its block`);
		(await ctx.cursor(at, 4, 'a fractal heap direct block')).signature('FHDB');
		return (await ctx.cursor(at + within, length, 'a fractal heap object')).bytes;
	}
}

/**
 * The objects of "dense" storage, as a link info or attribute info message describes it: a
 * fractal heap of encoded messages, indexed by a v2 B-tree of names. `info` is that message's
 * body; `orderFieldSize` is the size of its optional max-creation-index field (8 for links, 2
 * for attributes) and `idAt` where the heap id starts in each name record (after the 4-byte
 * name hash for links, first for attributes). None when the object keeps its messages compact.
 */
export async function denseStorageObjects(ctx: H5Context, info: Cursor, orderFieldSize: number, idAt: number, what: string): Promise<Cursor[]> {
	info.skip(1);
	info.skip(info.u8() & 1 ? orderFieldSize : 0);
	const heapAddress = info.offset();
	const names = info.offset();
	if (heapAddress === UNDEF) return [];
	const heap = await FractalHeap.open(ctx, heapAddress);
	const objects: Cursor[] = [];
	for (const record of await v2BTreeRecords(ctx, names)) {
		objects.push(new Cursor(ctx, await heap.get(record.skip(idAt).take(heap.idLength)), what));
	}
	return objects;
}
