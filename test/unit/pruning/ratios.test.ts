import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { UsageError } from '../../../src/core/errors';
import { openModel } from '../../../src/formats/registry';
import type { RatioLayer } from '../../../src/pruning/ratios';
import { ratioPresets, resolveRatios } from '../../../src/pruning/ratios';

const vggShapes = [[64, 3, 3, 3], [128, 64, 3, 3], [256, 128, 3, 3], [256, 256, 3, 3], [512, 256, 3, 3], [512, 512, 3, 3], [512, 512, 3, 3], [512, 512, 3, 3]];
const vggLayers: RatioLayer[] = [
	...vggShapes.map((shape, i) => ({ name: `features.${[0, 3, 6, 8, 11, 13, 16, 18][i]}`, shape })),
	{ name: 'classifier.0', shape: [512, 512] },
	{ name: 'classifier.6', shape: [10, 512] },
];

function resnet18Layers(): RatioLayer[] {
	const layers: RatioLayer[] = [{ name: 'conv1', shape: [64, 3, 7, 7] }];
	let inChannels = 64;
	[64, 128, 256, 512].forEach((channels, stage) => {
		for (let block = 0; block < 2; block++) {
			const prefix = `layer${stage + 1}.${block}`;
			const blockIn = block === 0 ? inChannels : channels;
			layers.push({ name: `${prefix}.conv1`, shape: [channels, blockIn, 3, 3] });
			layers.push({ name: `${prefix}.conv2`, shape: [channels, channels, 3, 3] });
			if (block === 0 && stage > 0) layers.push({ name: `${prefix}.downsample.0`, shape: [channels, blockIn, 1, 1] });
		}
		inChannels = channels;
	});
	layers.push({ name: 'fc', shape: [1000, 512] });
	return layers;
}

void describe('prune ratios (docs/method.md §6.2)', () => {
	void it('presets copy the ratio sets verbatim', () => {
		assert.deepEqual(ratioPresets['vgg11-cifar10'].ratios, [2.37, 70, 75, 75, 90, 98.67, 99.84, 99.86]);
		assert.deepEqual(ratioPresets['resnet18-imagenet'].ratios, [60, 60, 70, 55, 60, 60, 60, 50, 65, 65, 70, 70, 85, 75, 75, 65, 75, 70, 75, 75]);
		for (const preset of Object.values(ratioPresets)) assert.equal(preset.ratios.length, preset.shapes.length, preset.id);
	});

	void it('vgg11-cifar10 matches the 8 convs of VGG11 and skips the FC layers', () => {
		const resolved = resolveRatios(vggLayers, { preset: 'vgg11-cifar10' });
		assert.deepEqual(resolved.map((r) => r.name), vggLayers.slice(0, 8).map((l) => l.name));
		assert.deepEqual(resolved.map((r) => r.ratio), [2.37, 70, 75, 75, 90, 98.67, 99.84, 99.86]);
	});

	void it('resnet18-imagenet matches torchvision module order; index 12 is layer3.0.downsample.0 at 85 %', () => {
		const resolved = resolveRatios(resnet18Layers(), { preset: 'resnet18-imagenet' });
		assert.equal(resolved.length, 20);
		assert.deepEqual(resolved[12], { name: 'layer3.0.downsample.0', ratio: 85 });
		assert.deepEqual(resolved.map((r) => r.name), ratioPresets['resnet18-imagenet'].layerNames);
	});

	void it('fashion-cnn fits the bundled examples/fashion-cnn.onnx, the repro:fashion model', async () => {
		const graph = await openModel(join(__dirname, '..', '..', '..', 'examples', 'fashion-cnn.onnx'));
		try {
			const convs = graph.layers.filter((l) => l.kind === 'conv').map((l) => ({ name: l.name, shape: l.tensor.shape }));
			assert.deepEqual(resolveRatios(convs, { preset: 'fashion-cnn' }).map((r) => r.ratio), [0, 70, 80, 90, 97, 99, 99.7]);
		} finally {
			await graph.close();
		}
	});

	void it('names the first layer that does not fit a preset', () => {
		const wrong = vggLayers.map((l) => (l.name === 'features.8' ? { ...l, shape: [256, 128, 3, 3] } : l));
		assert.throws(() => resolveRatios(wrong, { preset: 'vgg11-cifar10' }), (ex: unknown) => ex instanceof UsageError && /'features\.8'.*\(256, 128, 3, 3\).*\(256, 256, 3, 3\)/.test(ex.message));
		assert.throws(() => resolveRatios(vggLayers, { preset: 'resnet18-imagenet' }), /conv layer #0 'features\.0' has shape \(64, 3, 3, 3\).*\(64, 3, 7, 7\) \(conv1\)/);
		const extra = [...vggLayers.slice(0, 8), { name: 'features.21', shape: [512, 512, 3, 3] }];
		assert.throws(() => resolveRatios(extra, { preset: 'vgg11-cifar10' }), /has 8 ratios but the model has 9 conv layers; 'features\.21'/);
		const short = resnet18Layers().filter((l) => !l.name.startsWith('layer4'));
		assert.throws(() => resolveRatios(short, { preset: 'resnet18-imagenet' }), /expects 20 conv layers but the model has 15; 5 missing after 'layer3\.1\.conv2', starting with layer4\.0\.conv1 \(512, 256, 3, 3\)/);
		assert.throws(() => resolveRatios(vggLayers, { preset: 'alexnet' }), /Unknown ratio preset 'alexnet'; known: vgg11-cifar10/);
		assert.throws(() => resolveRatios(vggLayers, { preset: 'toString' }), /Unknown ratio preset/);
	});

	void it('explicit lists and a single ratio', () => {
		assert.deepEqual(resolveRatios(vggLayers, { ratio: 50 }).map((r) => r.ratio), new Array(8).fill(50));
		const ratios = [1, 2, 3, 4, 5, 6, 7, 8];
		assert.deepEqual(resolveRatios(vggLayers, { ratios }).map((r) => r.ratio), ratios);
		assert.throws(() => resolveRatios(vggLayers, { ratios: [1, 2] }), /Got 2 prune ratios for 8 conv layers/);
		assert.throws(() => resolveRatios(vggLayers, { ratios: [1, 2, 3, 4, 5, 6, 7, 101] }), /features\.18 must be a percentage/);
		assert.throws(() => resolveRatios(vggLayers, { ratio: -1 }), UsageError);
		assert.throws(() => resolveRatios([{ name: 'fc', shape: [10, 5] }], { ratio: 5 }), /no convolution layers/);
		// kind overrides the rank: a conv given as its 2-D matrix.
		assert.deepEqual(resolveRatios([{ name: 'c', shape: [4, 9], kind: 'conv' }], { ratio: 5 }), [{ name: 'c', ratio: 5 }]);
	});
});
