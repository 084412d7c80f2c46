import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanPythonSource } from '../../../src/source/pythonScan';
import { crossbarsFor, formatLayerLens, matchLayers, matchScore } from '../../../src/extension/codelens/lensText';
import { analyzeGraph } from '../../../src/hardware/analyze';
import { resolveProfile } from '../../../src/hardware/profile';
import { memoryGraph } from '../../helpers/graphs';

const profile64 = resolveProfile({ crossbarSize: 64 });
const layer = (source: string) => scanPythonSource(`import torch.nn as nn\n${source}`).layers[0];

void describe('CodeLens text', () => {
	void it('counts crossbars as the analysis maps them', () => {
		// conv 64→128 3×3: fan-in 576 = 9 blocks of 64 inputs; 128 channels = 2 groups of 64.
		assert.deepEqual(crossbarsFor([128, 576], profile64), { inputBlocks: 9, channelGroups: 2, count: 18, adcBitsDense: 108 });
		assert.deepEqual(crossbarsFor([128, 576], { crossbarSize: 64, slices: 2 }), { inputBlocks: 9, channelGroups: 4, count: 36, adcBitsDense: 216 });
		assert.deepEqual(crossbarsFor([10, 27], { crossbarSize: 16, slices: 1 }), { inputBlocks: 2, channelGroups: 1, count: 2, adcBitsDense: 8 });
	});

	void it('shows shape, crossbars and dense ADC bits before any checkpoint is analysed', () => {
		const text = formatLayerLens(layer('c = nn.Conv2d(64, 128, 3)'), profile64);
		assert.equal(text.title, 'conv 64→128 3×3 · 18 crossbars · ADC 108 bits dense');
		assert.match(text.tooltip, /Matrix 128×576 → 9 × 2 64×64 crossbars/);
	});

	void it('shows measured bits and improvement once matched', () => {
		const measured = { name: 'features.3', kind: 'conv' as const, shape: [128, 64, 3, 3], layout: 'OIHW', groups: 1, matrix: [128, 576] as [number, number], tiles: 18, weights: 73728, zeros: 50000, levelHistogram: [4, 6, 8, 0, 0, 0, 0, 0], adcBitsDense: 108, adcBits: 46, adcEnergyDense: 108, adcEnergy: 46, adcEnergyImprovement: 108 / 46, grid: { inputBlocks: 9, channelGroups: 2, levels: [], lscNonZeros: [] } };
		const text = formatLayerLens(layer('c = nn.Conv2d(64, 128, 3)'), profile64, { layer: measured, source: 'runs/ckpt.pt' });
		assert.equal(text.title, 'conv 64→128 3×3 · 18 crossbars · ADC 108→46 bits (2.35×)');
		assert.match(text.tooltip, /features\.3 in runs\/ckpt\.pt/);
		assert.match(text.tooltip, /k0:4 k1:6 k2:8/);
	});

	void it('says what is unknown, and that linear layers are not counted by default', () => {
		assert.equal(formatLayerLens(scanPythonSource('from tensorflow.keras import layers\nlayers.Conv2D(32, 3)').layers[0], profile64).title, 'conv ?→32 3×3 · crossbars unknown');
		assert.equal(formatLayerLens(layer('fc = nn.Linear(512, 10)'), profile64).title, 'linear 512→10 · 8 crossbars · not counted (linear)');
		assert.equal(formatLayerLens(layer('fc = nn.Linear(512, 10)'), resolveProfile({ includeLinear: true })).title, 'linear 512→10 · 8 crossbars · ADC 48 bits dense');
		assert.equal(formatLayerLens(layer('d = nn.Conv2d(32, 32, 3, groups=32)'), profile64).title, 'conv 32→32 3×3 g32 · 1 crossbar · ADC 6 bits dense');
	});
});

void describe('matching scanned layers to an analysed checkpoint', () => {
	const source = [
		'import torch.nn as nn',
		'self.conv1 = nn.Conv2d(3, 16, 3)',
		'self.conv2 = nn.Conv2d(16, 32, 3)',
		'self.fc = nn.Linear(32, 10)',
	].join('\n');

	void it('pairs layers by order and shape', async () => {
		const graph = memoryGraph([{ name: 'conv1', shape: [16, 3, 3, 3] }, { name: 'conv2', shape: [32, 16, 3, 3] }, { name: 'fc', shape: [10, 32] }]);
		const { result } = await analyzeGraph(graph, resolveProfile({ crossbarSize: 16 }));
		const scanned = scanPythonSource(source).layers;
		const matches = matchLayers(scanned, result);
		assert.deepEqual([...matches.entries()].map(([i, l]) => [i, l.name]), [[0, 'conv1'], [1, 'conv2']]);
		const score = matchScore(scanned, result);
		assert.equal(score.matched, 2);
		assert.equal(score.countable, 2);
		const text = formatLayerLens(scanned[1], result.profile, { layer: matches.get(1)!, source: 'm.pt' });
		assert.equal(text.title, 'conv 16→32 3×3 · 18 crossbars · ADC 72→72 bits (1.00×)');
	});

	void it('skips layers of a different model and survives extra layers', async () => {
		const graph = memoryGraph([{ name: 'stem', shape: [8, 3, 7, 7] }, { name: 'conv1', shape: [16, 3, 3, 3] }, { name: 'conv2', shape: [32, 16, 3, 3] }]);
		const { result } = await analyzeGraph(graph, resolveProfile({ crossbarSize: 16 }));
		assert.deepEqual([...matchLayers(scanPythonSource(source).layers, result).values()].map((l) => l.name), ['conv1', 'conv2']);
		const other = await analyzeGraph(memoryGraph([{ name: 'x', shape: [64, 64, 1, 1] }]), resolveProfile({ crossbarSize: 16 }));
		assert.equal(matchScore(scanPythonSource(source).layers, other.result).matched, 0);
	});
});
