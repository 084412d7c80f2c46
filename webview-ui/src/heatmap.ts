import type { LayerAnalysisDto } from '../../src/shared/analysis';
import { levelPalette } from '../../src/shared/levelPalette';
import { crossbarAtFraction, fillLevelPixels, heatmapCells, packPalette } from './heatmapGeometry';
import type { CrossbarRef } from './heatmapGeometry';

export type { CrossbarRef } from './heatmapGeometry';

export interface HeatmapCallbacks {
	hover(crossbar: CrossbarRef | undefined, event: MouseEvent | undefined): void;
	select(crossbar: CrossbarRef): void;
}

/**
 * A layer's crossbar grid on one <canvas>: rows = input blocks, columns = output-channel
 * groups, colour = level. Drawing is one ImageData fill at one pixel per crossbar, one scaled
 * drawImage, and (for big cells) one path of separators: no DOM per crossbar, so a 10,000-crossbar
 * layer draws in a few milliseconds.
 */
export class Heatmap {
	readonly canvas: HTMLCanvasElement;
	private readonly source: HTMLCanvasElement;
	private cellWidth = 8;
	private cellHeight = 8;
	private selected: CrossbarRef | undefined;
	private hovered: CrossbarRef | undefined;
	/** Milliseconds the last draw took (exposed as data-draw-ms for benchmarks and e2e logs). */
	lastDrawMs = 0;

	constructor(private readonly layer: LayerAnalysisDto, private readonly adcBitsByLevel: readonly number[], private readonly callbacks: HeatmapCallbacks) {
		this.canvas = document.createElement('canvas');
		this.canvas.className = 'heatmap';
		this.canvas.tabIndex = 0;
		this.canvas.setAttribute('role', 'img');
		this.canvas.setAttribute('aria-label', `${layer.name}: ${layer.grid.inputBlocks} input blocks by ${layer.grid.channelGroups} channel groups of crossbars; ${layer.levelHistogram.map((n, k) => (n ? `${n} at level ${k}` : '')).filter(Boolean).join(', ')}. Arrow keys move, Enter shows a crossbar's columns.`);
		this.source = document.createElement('canvas');
		this.source.width = layer.grid.channelGroups;
		this.source.height = layer.grid.inputBlocks;
		this.canvas.addEventListener('mousemove', (event) => {
			const crossbar = this.crossbarAt(event);
			if (crossbar?.block !== this.hovered?.block || crossbar?.group !== this.hovered?.group) {
				this.hovered = crossbar;
			}
			this.callbacks.hover(crossbar, event);
		});
		this.canvas.addEventListener('mouseleave', () => {
			this.hovered = undefined;
			this.callbacks.hover(undefined, undefined);
		});
		this.canvas.addEventListener('click', (event) => {
			const crossbar = this.crossbarAt(event);
			if (crossbar) this.callbacks.select(crossbar);
		});
		this.canvas.addEventListener('keydown', (event) => this.onKey(event));
		this.fillSource();
	}

	/** Chooses cell sizes for the available width; tall grids get flatter cells, never below 2 px. */
	layout(availableWidth: number): void {
		const { inputBlocks: blocks, channelGroups: groups } = this.layer.grid;
		({ cellWidth: this.cellWidth, cellHeight: this.cellHeight } = heatmapCells(this.layer.grid, availableWidth));
		const dpr = window.devicePixelRatio || 1;
		const width = groups * this.cellWidth;
		const height = blocks * this.cellHeight;
		this.canvas.style.width = `${width}px`;
		this.canvas.style.height = `${height}px`;
		this.canvas.width = Math.round(width * dpr);
		this.canvas.height = Math.round(height * dpr);
	}

	setSelected(crossbar: CrossbarRef | undefined): void {
		this.selected = crossbar;
		this.draw();
	}

	/** Redraws (also after a theme change: separators use the editor background). */
	draw(): void {
		const started = performance.now();
		const ctx = this.canvas.getContext('2d');
		if (!ctx) return;
		const { inputBlocks: blocks, channelGroups: groups } = this.layer.grid;
		ctx.setTransform(1, 0, 0, 1, 0, 0);
		ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
		ctx.imageSmoothingEnabled = false;
		ctx.drawImage(this.source, 0, 0, this.canvas.width, this.canvas.height);
		const sx = this.canvas.width / groups;
		const sy = this.canvas.height / blocks;
		const style = getComputedStyle(document.body);
		if (this.cellWidth >= 6 && this.cellHeight >= 6) {
			ctx.strokeStyle = style.getPropertyValue('--vscode-editor-background').trim() || '#1e1e1e';
			ctx.lineWidth = Math.max(1, Math.round(window.devicePixelRatio || 1));
			ctx.beginPath();
			for (let group = 1; group < groups; group++) {
				const x = Math.round(group * sx) + 0.5;
				ctx.moveTo(x, 0);
				ctx.lineTo(x, this.canvas.height);
			}
			for (let block = 1; block < blocks; block++) {
				const y = Math.round(block * sy) + 0.5;
				ctx.moveTo(0, y);
				ctx.lineTo(this.canvas.width, y);
			}
			ctx.stroke();
		}
		if (this.selected) {
			const line = 2 * (window.devicePixelRatio || 1);
			ctx.lineWidth = line;
			ctx.strokeStyle = style.getPropertyValue('--vscode-focusBorder').trim() || '#0078d4';
			ctx.strokeRect(this.selected.group * sx + line / 2, this.selected.block * sy + line / 2, Math.max(sx - line, line), Math.max(sy - line, line));
			ctx.strokeStyle = style.getPropertyValue('--vscode-editor-foreground').trim() || '#ffffff';
			ctx.lineWidth = 1;
			ctx.strokeRect(this.selected.group * sx - 0.5, this.selected.block * sy - 0.5, sx + 1, sy + 1);
		}
		this.lastDrawMs = performance.now() - started;
		this.canvas.dataset.drawMs = this.lastDrawMs.toFixed(2);
	}

	/** The crossbar under the mouse, if any. */
	crossbarAt(event: MouseEvent): CrossbarRef | undefined {
		const rect = this.canvas.getBoundingClientRect();
		return crossbarAtFraction(this.layer.grid, (event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height);
	}

	/** Client coordinates of a crossbar's centre (for keyboard-driven tooltips and tests). */
	crossbarCentre(crossbar: CrossbarRef): { x: number; y: number } {
		const rect = this.canvas.getBoundingClientRect();
		return { x: rect.left + ((crossbar.group + 0.5) / this.layer.grid.channelGroups) * rect.width, y: rect.top + ((crossbar.block + 0.5) / this.layer.grid.inputBlocks) * rect.height };
	}

	/** One ImageData pass at one pixel per crossbar (timed as data-fill-ms). */
	private fillSource(): void {
		const started = performance.now();
		const { inputBlocks: blocks, channelGroups: groups, levels } = this.layer.grid;
		const ctx = this.source.getContext('2d');
		if (!ctx) return;
		const image = ctx.createImageData(groups, blocks);
		fillLevelPixels(levels, packPalette(levelPalette(this.adcBitsByLevel)), new Uint32Array(image.data.buffer));
		ctx.putImageData(image, 0, 0);
		this.canvas.dataset.fillMs = (performance.now() - started).toFixed(2);
	}

	private onKey(event: KeyboardEvent): void {
		const { inputBlocks: blocks, channelGroups: groups } = this.layer.grid;
		const current = this.selected ?? { block: 0, group: 0 };
		const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
		const move = moves[event.key];
		if (move) {
			event.preventDefault();
			const next = { block: Math.min(blocks - 1, Math.max(0, current.block + move[0])), group: Math.min(groups - 1, Math.max(0, current.group + move[1])) };
			this.callbacks.select(next);
		} else if (event.key === 'Enter' || event.key === ' ') {
			event.preventDefault();
			this.callbacks.select(current);
		}
	}
}
