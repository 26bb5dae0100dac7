// The library product "TTCkpt": every layer of tt-ckpt behind one import, for programs that
// use tt-ckpt as a library. The targets themselves import only the layers below them
// (README, "Development").
@_exported import TTCore
@_exported import TTEngine
@_exported import TTFormat
@_exported import TTTokenizer
@_exported import TTTraining
@_exported import TTInterop
@_exported import TTAnalysis
