import TTCore
import TTFormat

extension SafetensorsFile {
    /// The model digest of spec/FORMAT.md §4.3 computed from this file, so a .ttc and its
    /// safetensors export can be matched (`CheckpointReader.modelDigest()` gives the same
    /// value for the same weights): every tensor not named `adam_m.*` or `adam_v.*` (the
    /// moments `export --include-optimizer` adds), with its raw bytes hashed as stored.
    /// Only F32 tensors take part in a tt-ckpt digest; any other dtype is an error naming
    /// the tensor, since its bytes are not the .ttc raw bytes of any model.
    /// - Throws: `FormatError` naming the file and tensor.
    public func modelDigest() throws -> String {
        var items: [ModelDigest.Item] = []
        for t in tensors where !t.name.hasPrefix(TensorRole.adamM.namePrefix) && !t.name.hasPrefix(TensorRole.adamV.namePrefix) {
            guard t.dtype == .f32 else {
                throw FormatError(path: path, message: "tensor \(quotedName(t.name)): dtype \(t.dtype.rawValue) has no tt-ckpt model digest (F32 only)")
            }
            let bytes = try loadBytes(t)
            items.append(ModelDigest.Item(name: t.name, dtypeCode: DType.f32.rawValue, shape: t.shape, sha256: SHA256.digest(bytes)))
        }
        return ModelDigest.compute(items)
    }
}
