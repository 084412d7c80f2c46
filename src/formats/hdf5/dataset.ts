import type { DType } from '../../core/model';
import { numel } from '../../core/model';
import { float32Target } from '../dtype';
import type { Hdf5Dataset } from './api';
import { decodeNumbers, describeType, dtypeOf, isNumeric, parseDataspace } from './datatype';
import type { Hdf5Type } from './datatype';
import { UNDEF, guard } from './io';
import type { H5Context } from './io';
import { checkFilters, chunkRuns, listChunks, parseFilters, parseLayout, unfilter } from './layout';
import type { Chunk, Filter, Layout } from './layout';
import { Node, datatypeOf } from './node';
import { Msg, body, find } from './objectHeader';
import type { ObjectHeader } from './objectHeader';

const maxBytes = 2 ** 32 - 1;

/** A dataset: shape, type and storage from its header; data read on load(). */
export class Dataset extends Node implements Hdf5Dataset {
	readonly kind = 'dataset';

	private constructor(ctx: H5Context, path: string, header: ObjectHeader, readonly shape: readonly number[], readonly count: number, readonly type: Hdf5Type, readonly storage: Layout, readonly filters: readonly Filter[]) {
		super(ctx, path, header);
	}

	static async open(ctx: H5Context, path: string, header: ObjectHeader): Promise<Dataset> {
		if (find(header, Msg.external)) throw ctx.unsupported(`dataset '${path}' keeps its data in external files`);
		const space = find(header, Msg.dataspace);
		if (!space) throw ctx.corrupt(`dataset '${path}' has no dataspace`);
		const dims = parseDataspace(body(ctx, space));
		const type = await datatypeOf(ctx, find(header, Msg.datatype));
		const layoutMessage = find(header, Msg.layout)!;
		let storage = parseLayout(body(ctx, layoutMessage), dims?.length ?? 0, type.size);
		if (storage.kind === 'compact' && layoutMessage.chunk) {
			storage = { ...storage, checksummed: layoutMessage.chunk };
		}
		const filterMessage = find(header, Msg.filters);
		const count = dims === null ? 0 : numel(dims);
		const bytes = count * type.size;
		if (bytes > maxBytes || (storage.kind !== 'compact' && bytes > Math.max(1032 * ctx.source.length, 1 << 26))) {
			throw ctx.fail('too-large', `dataset '${path}' declares ${bytes} bytes, more than can be loaded or the file could hold.`);
		}
		if ((storage.kind !== 'chunked' && storage.size < bytes && !(storage.kind === 'contiguous' && storage.address === UNDEF))) {
			throw ctx.corrupt(`dataset '${path}' stores ${storage.size} bytes for ${count} elements of ${type.size} bytes`);
		}
		if (storage.kind === 'contiguous' && storage.address !== UNDEF) {
			ctx.inFile(ctx.abs(storage.address, `dataset '${path}'`), bytes, `dataset '${path}'`);
		}
		return new Dataset(ctx, path, header, dims ?? [], count, type, storage, filterMessage ? parseFilters(body(ctx, filterMessage)) : []);
	}

	get dtype(): DType | undefined {
		return dtypeOf(this.type);
	}

	get rawRange(): { offset: number; length: number } | undefined {
		const length = this.count * this.type.size;
		const { storage } = this;
		if (storage.kind === 'compact') return { offset: storage.offset, length };
		if (storage.kind === 'contiguous' && storage.address !== UNDEF) return { offset: this.ctx.base + storage.address, length };
		return undefined;
	}

	chunks(): Promise<Chunk[]> {
		const { storage } = this;
		return storage.kind === 'chunked' ? guard(this.ctx, () => listChunks(this.ctx, storage, this.shape, this.type.size, this.filters.length > 0)) : Promise.resolve([]);
	}

	readRaw(): Promise<Uint8Array> {
		return guard(this.ctx, async () => {
			const { ctx, storage, type } = this;
			const bytes = this.count * type.size;
			const range = this.rawRange;
			if (range) return ctx.source.read(range.offset, range.length);
			const out = new Uint8Array(bytes);
			if (storage.kind !== 'chunked' || bytes === 0) return out;
			checkFilters(ctx, this.filters, this.path);
			const chunkBytes = storage.chunk.reduce((a, b) => a * b, type.size);
			for (const chunk of await this.chunks()) {
				const data = unfilter(ctx, await ctx.source.read(chunk.offset, chunk.size), this.filters, chunk.mask, chunkBytes, type.size);
				if (data.length !== chunkBytes) throw ctx.corrupt(`a chunk of '${this.path}' holds ${data.length} bytes instead of ${chunkBytes}`);
				chunkRuns(this.shape, storage.chunk, chunk.coords, (inChunk, inDataset, n) => {
					out.set(data.subarray(inChunk * type.size, (inChunk + n) * type.size), inDataset * type.size);
				});
			}
			return out;
		});
	}

	load(into?: Float32Array): Promise<Float32Array> {
		return guard(this.ctx, async () => {
			const { type, count } = this;
			if (!isNumeric(type)) throw this.ctx.fail('unsupported-dtype', `dataset '${this.path}' holds ${describeType(type)} elements, not numbers.`);
			const target = float32Target(count, into);
			const range = this.rawRange;
			if (range && this.dtype === 'float32' && !type.bigEndian) {
				await this.ctx.source.readInto(range.offset, new Uint8Array(target.buffer, target.byteOffset, count * 4));
			} else if (count > 0) {
				decodeNumbers(this.ctx, await this.readRaw(), type, count, target);
			}
			return target;
		});
	}
}
