import type { ByteSource } from '../byteSource';
import type { Hdf5Dataset, Hdf5File, Hdf5Group } from './api';
import { Dataset } from './dataset';
import { denseStorageObjects, heapString, localHeap, walkV1BTree } from './heaps';
import { H5Context, UNDEF, checkChecksum, guard } from './io';
import type { Cursor } from './io';
import { Node, compareNames } from './node';
import { Msg, body, find, readObjectHeader } from './objectHeader';
import type { ObjectHeader } from './objectHeader';

interface Link {
	readonly name: string;
	readonly address?: number;
	readonly soft?: string;
	readonly order?: number;
}

const maxDepth = 64;
const maxSoftLinks = 16;
const utf8 = new TextDecoder();

/**
 * Opens an HDF5 file (superblock versions 0-3, also after a user block). Only the superblock is
 * read here; groups, attributes and data are read when asked for. Failures are ModelFormatErrors
 * naming `source.name`. Unexpected errors inside (a RangeError) become 'corrupt'.
 */
export async function openHdf5(source: ByteSource): Promise<Hdf5File> {
	const ctx = new H5Context(source);
	return guard(ctx, async () => {
		const at = await findSuperblock(ctx);
		const c = await ctx.cursor(at, Math.min(128, source.length - at), 'the superblock');
		c.skip(8);
		const version = c.u8();
		if (version > 3) throw ctx.unsupported(`superblock version ${version}`);
		c.skip(version < 2 ? 4 : 0);
		const offsetSize = c.u8();
		const lengthSize = c.u8();
		if (![2, 4, 8].includes(offsetSize) || ![2, 4, 8].includes(lengthSize)) {
			throw ctx.corrupt(`the superblock declares ${offsetSize}-byte addresses and ${lengthSize}-byte lengths`);
		}
		ctx.offsetSize = offsetSize;
		ctx.lengthSize = lengthSize;
		c.skip(version < 2 ? 9 + (version === 1 ? 4 : 0) : 1);
		c.offset();
		c.offset();
		const eof = c.offset();
		let root: number;
		if (version < 2) {
			c.offset();
			c.offset();
			root = c.offset();
		} else {
			root = c.offset();
			checkChecksum(ctx, c.bytes, c.pos, 'the superblock');
		}
		ctx.base = at;
		ctx.rootAddress = root;
		// The stored end-of-file address counts the user block too (H5F__super_read).
		if (eof !== UNDEF && eof > source.length) {
			throw ctx.fail('truncated', `the HDF5 superblock says the file has ${eof} bytes but it has ${source.length} (truncated).`);
		}
		const rootGroup = await openObject(ctx, '', root);
		if (rootGroup?.kind !== 'group') throw ctx.corrupt('the root object is not a group');
		return {
			source,
			superblockVersion: version,
			root: rootGroup,
			get: (path) => rootGroup.get(path),
			datasets: () => guard(ctx, () => allDatasets(ctx, rootGroup)),
			close: () => source.close(),
		};
	});
}

async function findSuperblock(ctx: H5Context): Promise<number> {
	const { source } = ctx;
	if (source.length < 8) throw ctx.fail(source.length === 0 ? 'empty' : 'truncated', `${source.length} bytes is too short for an HDF5 file.`);
	for (let at = 0; at + 8 <= source.length; at = at === 0 ? 512 : at * 2) {
		const sig = await source.read(at, 8);
		if (sig.every((b, i) => b === [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a][i])) return at;
	}
	throw ctx.fail('bad-magic', 'is not an HDF5 file (no superblock signature).');
}

async function allDatasets(ctx: H5Context, root: Hdf5Group): Promise<Hdf5Dataset[]> {
	const found: Hdf5Dataset[] = [];
	const seen = new Set<number>([root.address]);
	const walk = async (group: Hdf5Group, depth: number): Promise<void> => {
		if (depth > maxDepth) throw ctx.corrupt(`groups nest deeper than ${maxDepth} levels at '${group.path}'`);
		for (const child of await group.children()) {
			if (!seen.has(child.address)) {
				seen.add(child.address);
				if (child.kind === 'dataset') {
					found.push(child);
				} else {
					await walk(child, depth + 1);
				}
			}
		}
	};
	await walk(root, 0);
	return found;
}

const groupMessages = new Set<number>([Msg.symbolTable, Msg.linkInfo, Msg.link, Msg.groupInfo]);

/** A group or dataset at `address`; undefined for other objects (committed datatypes). */
async function openObject(ctx: H5Context, path: string, address: number): Promise<Group | Dataset | undefined> {
	const header = await readObjectHeader(ctx, address);
	if (find(header, Msg.layout)) return Dataset.open(ctx, path, header);
	if (header.messages.some((m) => groupMessages.has(m.type)) || !find(header, Msg.datatype)) return new Group(ctx, path, header);
	return undefined;
}

class Group extends Node implements Hdf5Group {
	readonly kind = 'group';
	private linkList?: Promise<Link[]>;

	children(): Promise<(Hdf5Group | Hdf5Dataset)[]> {
		return guard(this.ctx, async () => {
			const out: (Hdf5Group | Hdf5Dataset)[] = [];
			for (const link of await this.links()) {
				const child = link.address === undefined ? undefined : await openObject(this.ctx, this.join(link.name), link.address);
				if (child) {
					out.push(child);
				}
			}
			return out;
		});
	}

	get(path: string): Promise<Hdf5Group | Hdf5Dataset | undefined> {
		return guard(this.ctx, () => this.resolve(path, { hops: 0 }));
	}

	private join(name: string): string {
		return this.path ? `${this.path}/${name}` : name;
	}

	private async resolve(path: string, state: { hops: number }): Promise<Group | Dataset | undefined> {
		let node: Group | Dataset | undefined = path.startsWith('/') ? await this.ctx.cached('root', () => openObject(this.ctx, '', this.ctx.rootAddress)) : this;
		for (const part of path.split('/').filter((p) => p && p !== '.')) {
			if (node?.kind !== 'group') return undefined;
			const link: Link | undefined = (await node.links()).find((l) => l.name === part);
			if (link?.soft !== undefined) {
				if (++state.hops > maxSoftLinks) throw this.ctx.corrupt(`soft links at '${node.join(part)}' form a loop`);
				node = await node.resolve(link.soft, state);
			} else {
				node = link?.address === undefined ? undefined : await openObject(this.ctx, node.join(part), link.address);
			}
		}
		return node;
	}

	links(): Promise<Link[]> {
		this.linkList ??= guard(this.ctx, () => readLinks(this.ctx, this.header));
		return this.linkList;
	}
}

async function readLinks(ctx: H5Context, header: ObjectHeader): Promise<Link[]> {
	const table = find(header, Msg.symbolTable);
	if (table) {
		const c = body(ctx, table);
		const tree = c.offset();
		const names = await localHeap(ctx, c.offset());
		const nodes: number[] = [];
		await walkV1BTree(ctx, tree, 0, ctx.lengthSize, (_key, child) => nodes.push(child));
		const links: Link[] = [];
		for (const node of nodes) {
			const head = await ctx.cursor(node, 8, 'a symbol table node');
			head.signature('SNOD').skip(2);
			const count = head.u16();
			const entries = await ctx.cursor(node + 8, count * (2 * ctx.offsetSize + 24), 'a symbol table node');
			for (let i = 0; i < count; i++) {
				const name = heapString(ctx, names, entries.offset());
				const address = entries.offset();
				const cache = entries.u32();
				const scratch = entries.skip(4).sub(16);
				links.push(cache === 2 ? { name, soft: heapString(ctx, names, scratch.u32()) } : { name, address });
			}
		}
		return links;
	}
	const links: Link[] = [];
	for (const m of header.messages.filter((m) => m.type === Msg.link)) {
		links.push(parseLink(body(ctx, m)));
	}
	const info = find(header, Msg.linkInfo);
	if (info) {
		for (const c of await denseStorageObjects(ctx, body(ctx, info), 8, 4, 'a link')) links.push(parseLink(c));
	}
	const ordered = links.every((l) => l.order !== undefined);
	return links.sort((a, b) => (ordered ? a.order! - b.order! : compareNames(a.name, b.name)));
}

function parseLink(c: Cursor): Link {
	if (c.u8() !== 1) throw c.ctx.unsupported('a link message version other than 1');
	const flags = c.u8();
	const type = flags & 8 ? c.u8() : 0;
	const order = flags & 4 ? c.uint(8) : undefined;
	c.skip(flags & 0x10 ? 1 : 0);
	const name = utf8.decode(c.take(c.uint(1 << (flags & 3))));
	if (type === 0) return { name, address: c.offset(), order };
	return type === 1 ? { name, soft: utf8.decode(c.take(c.u16())), order } : { name, order };
}
