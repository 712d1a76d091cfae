/**
 * Native error messages cut to one readable line: onnxruntime's rejection of an unreleased opset is ~690 characters
 * (C++ source location, function signature, four sentences) and stretched `pit runs` to ~700 columns.
 */
import { describe, expect, it } from 'vitest';
import { conciseNativeMessage, ERROR_MESSAGE_MAX, InputError, ModelError, NATIVE_MESSAGE_MAX } from '../../core/model/errors.ts';
import { importOnnxBytes } from '../../core/model/onnx-import.ts';
import { ReferenceSession } from '../../core/model/reference.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { buildModel, randomFloats } from './onnx-builders.ts';

describe('conciseNativeMessage', () => {
  it("drops onnxruntime's source location and signature, keeps whole sentences within the cap", () => {
    const ort =
      '/onnxruntime_src/onnxruntime/core/graph/model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(' +
      'const std::unordered_map<std::__cxx11::basic_string<char>, int>&, const onnxruntime::logging::Logger&, bool, const std::string&, int) ' +
      'ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 99 is under development ' +
      'and support for this is limited. The operator schemas and or other functionality may change before next ONNX release and in this case ' +
      'ONNX Runtime will not guarantee backward compatibility. Current official support for domain ai.onnx is till opset 26.';
    expect(conciseNativeMessage(ort)).toBe(
      'ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 99 is under development and support for this is limited.',
    );
  });

  it('leaves short messages alone and cuts one overlong sentence with an ellipsis', () => {
    expect(conciseNativeMessage('Invalid rank for input: x Got: 3 Expected: 2')).toBe('Invalid rank for input: x Got: 3 Expected: 2');
    const long = 'x'.repeat(1000);
    const cut = conciseNativeMessage(long);
    expect(cut).toHaveLength(NATIVE_MESSAGE_MAX);
    expect(cut.endsWith('…')).toBe(true);
    expect(conciseNativeMessage('first line\nsecond line')).toBe('first line | second line');
  });
});

describe('the reference runtime rejecting a model', () => {
  it('says why in one short line (an unreleased opset)', async () => {
    const bytes = buildModel({
      opset: 99,
      inputs: [{ name: 'x', dims: [4, 24] }],
      outputs: [{ name: 'y', dims: [4, 20] }],
      initializers: [{ name: 'W', dims: [24, 20], data: randomFloats(24 * 20, 7) }],
      nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'], name: 'mm' }],
    });
    const model = importOnnxBytes(bytes, '/models/opset99.onnx');
    const err = await ReferenceSession.create(model, findSparseOps(model)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^reference runtime rejected \/models\/opset99\.onnx: ONNX Runtime only \*guarantees\* support .*Opset 99 is under development/);
    expect(msg).not.toContain('onnxruntime_src');
    expect(msg.length).toBeLessThanOrEqual(NATIVE_MESSAGE_MAX + 60);
  });
});

describe('ModelError and InputError messages', () => {
  it('stay one line whatever a damaged file names: control characters escaped, length capped', () => {
    const e = new ModelError(`/m.onnx: tensor bad\nname\x01 holds 3 values`);
    expect(e.message).toBe('/m.onnx: tensor bad\\x0aname\\x01 holds 3 values');
    const long = new InputError(`input ${'y'.repeat(2000)}`);
    expect(long.message).toHaveLength(ERROR_MESSAGE_MAX);
    expect(long.message.endsWith('…')).toBe(true);
  });
});
