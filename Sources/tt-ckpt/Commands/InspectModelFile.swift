import ArgumentParser
import Foundation
import TTAnalysis
import TTCore
import TTFormat
import TTInterop

/// `inspect` of a safetensors file, a sharded set or a GGUF file.
struct ForeignInspect {
    let command: TTCkpt.Inspect
    let file: ModelFile
    var path: String { command.checkpoint }

    func run() throws {
        if let name = command.tensorName {
            try runTensor(name)
            return
        }
        var statistics: [String: TensorStats] = [:]
        var problems: [String: String] = [:]
        var notDecoded: [String: String] = [:]
        for t in file.tensors where !t.decodable { notDecoded[t.name] = "values of \(t.dtype) not decoded" }
        if command.stats || command.verify {
            let decodable = file.tensors.filter(\.decodable).map(\.name)
            let results = TensorScan.stats(file, tensors: decodable, threads: command.threadCount)
            for (name, result) in zip(decodable, results) {
                switch result {
                case .success(let s): statistics[name] = s
                case .failure(let error):
                    guard command.verify else { throw AnalysisIO.fail(error, path: path) }
                    problems[name] = AnalysisIO.problem(error, path: path)
                }
            }
        }
        let names = file.tensors.map(\.name)
        let findings = command.verify ? VerifyFindings(names: names, problems: problems, stats: statistics, notScanned: notDecoded) : nil
        // The model digest of safetensors weights (all F32): what a .ttc of the same weights stores.
        var digest: String? = nil
        if command.verify, problems.isEmpty {
            do { digest = try file.safetensorsModelDigest(threads: command.threadCount) } catch { throw AnalysisIO.fail(error, path: path) }
        }

        if command.json {
            var document = ModelFileJSON.header(file, fileSize: fileSize(file.path))
            var tensors: [JSONValue] = []
            for t in file.tensors {
                var m = ModelFileJSON.tensor(t, in: file)
                if command.stats { m.append(("stats", statistics[t.name].map(\.json) ?? .null)) }
                if let findings { m.append(("verify", .string(findings.jsonValue(t.name)))) }
                tensors.append(.object(m))
            }
            document.append(("tensors", .array(tensors)))
            if command.verify { document.append(("model_digest", digest.map { .string($0) } ?? .null)) }
            if let findings { document.append(("verified", .bool(findings.isClean))) }
            AnalysisIO.printJSON(.object(document))
        } else {
            var lines: [String] = []
            if !command.tensors { lines += header() }
            lines += table(findings)
            if command.stats { lines += [""] + InspectText.statsTable(names, statistics, notDecoded: notDecoded) }
            if let findings {
                lines += [""] + findings.summary(what: file.format == .shardedSafetensors
                                                     ? "index and every shard validated" : "structure validated")
                if let digest { lines.append("model digest \(digest) (SHA-256 of the F32 weights, as a .ttc of them stores it)") }
            }
            print(lines.joined(separator: "\n"))
        }
        try findings?.exit(path: path)
    }

    func fileSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    /// The lines before the tensor table.
    func header() -> [String] {
        var rows: [(String, String)] = []
        rows.append(("file", "\(TerminalText.escaped(file.path)) (\(fileSize(file.path)) bytes)"))
        var metadataRows: [(String, String)] = []
        if let g = file.gguf {
            rows.append(("format", "GGUF v\(g.version), alignment \(g.alignment), tensor data at byte \(g.dataStart)"
                         + (g.isCanonicalLayout ? "" : " (tensors not in ggml's canonical order)")))
            let width = min(40, g.metadata.map { TerminalText.escaped($0.key).count }.max() ?? 0)
            let typeWidth = g.metadata.map { ggufTypeName($0.value).count }.max() ?? 0
            metadataRows = g.metadata.map { entry in
                ("", DisplayText.padRight(TerminalText.escaped(entry.key), width) + "  "
                     + DisplayText.padRight(ggufTypeName(entry.value), typeWidth) + "  "
                     + TerminalText.escaped(summarize(entry.value), limit: 160))
            }
            rows.append(("metadata", "\(g.metadata.count) key\(g.metadata.count == 1 ? "" : "s")"))
        } else if let s = file.safetensors {
            rows.append(("format", "safetensors, header \(s.headerLength) bytes, tensor data at byte \(s.dataStart)"))
            let pairs = s.metadataPairs ?? []
            rows.append(("metadata", pairs.isEmpty ? "none" : "\(pairs.count) key\(pairs.count == 1 ? "" : "s") (__metadata__)"))
            metadataRows = metadataLines(pairs)
        } else if let set = file.sharded {
            let total = set.totalSize.map { ", total_size \($0) (checked against the shards)" } ?? ", no total_size"
            rows.append(("format", "safetensors, sharded: \(set.shards.count) shard\(set.shards.count == 1 ? "" : "s")" + total))
            for (i, shard) in set.shards.enumerated() {
                let held = set.tensors.filter { $0.shard == i }
                rows.append((i == 0 ? "shards" : "", "\(TerminalText.escaped(shard.name))  \(shard.file.fileSize) bytes, \(held.count) tensors"))
            }
            rows.append(("metadata", set.metadata.isEmpty ? "none" : "\(set.metadata.count) key\(set.metadata.count == 1 ? "" : "s") (index)"))
            let width = min(40, set.metadataValues.map { TerminalText.escaped($0.key).count }.max() ?? 0)
            metadataRows = set.metadataValues.map {
                ("", DisplayText.padRight(TerminalText.escaped($0.key), width) + "  "
                     + TerminalText.escaped($0.value.jsonValue.serialized(pretty: false), limit: 160))
            }
        }
        rows += metadataRows
        rows.append(("tensors", "\(file.tensors.count), \(ModelFileJSON.parameterCount(file)) parameters"))
        rows += dtypeRows()
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { DisplayText.padRight($0.0, width) + "  " + $0.1 } + [""]
    }

    func metadataLines(_ pairs: [(key: String, value: String)]) -> [(String, String)] {
        let width = min(40, pairs.map { TerminalText.escaped($0.key).count }.max() ?? 0)
        return pairs.map { ("", DisplayText.padRight(TerminalText.escaped($0.key), width) + "  "
                                + TerminalText.quoted($0.value, limit: 160)) }
    }

    /// One row per dtype, in order of first use: tensors, parameters, and whether values
    /// are decoded.
    func dtypeRows() -> [(String, String)] {
        var order: [String] = []
        var counts: [String: (tensors: Int, elements: UInt64, decodable: Bool)] = [:]
        for t in file.tensors {
            if counts[t.dtype] == nil { order.append(t.dtype) }
            let c = counts[t.dtype] ?? (0, 0, t.decodable)
            counts[t.dtype] = (c.tensors + 1, c.elements &+ t.elementCount, t.decodable)
        }
        let cells = order.map { d -> [String] in
            let c = counts[d]!
            return [d, "\(c.tensors)", c.tensors == 1 ? "tensor, " : "tensors,", "\(c.elements)",
                    "parameters" + (c.decodable ? "" : " (values not decoded)")]
        }
        return DisplayText.table(cells, rightAligned: [false, true, false, true, false]).enumerated().map { ($0.offset == 0 ? "dtypes" : "", $0.element) }
    }

    func table(_ findings: VerifyFindings?) -> [String] {
        let sharded = file.format == .shardedSafetensors
        var rows: [[String]] = [["name", "dtype", "shape", "bytes", "offset"] + (sharded ? ["shard"] : [])]
        if findings != nil { rows[0].append("verify") }
        var bytes: UInt64 = 0
        for t in file.tensors {
            bytes &+= t.byteCount
            var row = [TerminalText.escaped(t.name), t.dtype + (t.decodable ? "" : " *"), DisplayText.shape(t.shape),
                       "\(t.byteCount)", file.dataOffset(of: t.name).map { "\($0)" } ?? "-"]
            if sharded { row.append(TerminalText.escaped(t.shard ?? "")) }
            if let findings { row.append(findings.cell(t.name)) }
            rows.append(row)
        }
        rows.append(["total (\(file.tensors.count) tensors)", "", "", "\(bytes)", ""])
        var lines = DisplayText.table(rows, rightAligned: [false, false, false, true, true, false, false])
        if file.tensors.contains(where: { !$0.decodable }) {
            lines.append("* values not decoded: listed only, not compared by diff, not scanned by --stats or --verify")
        }
        return lines
    }

    func runTensor(_ name: String) throws {
        guard let t = file.tensor(named: name) else {
            throw AnalysisIO.fail(path, "no tensor named \(TerminalText.quoted(name)) (tensors: see inspect --tensors)")
        }
        guard t.decodable else {
            throw AnalysisIO.fail(file.path, ModelFileError.Problem.valuesNotDecoded(tensor: t.name, dtype: t.dtype).message)
        }
        if command.verify {
            let others = file.tensors.filter { $0.decodable && $0.name != name }.map(\.name)
            for r in TensorScan.stats(file, tensors: others, threads: command.threadCount) {
                if case .failure(let error) = r { throw AnalysisIO.fail(error, path: path) }
            }
        }
        let leaves: [JSONValue], nonFinite: [(Int, String)]
        do { (leaves, nonFinite) = try ModelFileJSON.leaves(file, name) } catch { throw AnalysisIO.fail(error, path: path) }
        let statistics: TensorStats?
        if command.stats {
            switch TensorScan.stats(file, tensors: [name], threads: command.threadCount)[0] {
            case .success(let s): statistics = s
            case .failure(let error): throw AnalysisIO.fail(error, path: path)
            }
        } else {
            statistics = nil
        }
        if command.json {
            var members: [(String, JSONValue)] = [
                ("name", .string(t.name)),
                ("dtype", .string(t.dtype)),
                ("shape", .array(t.shape.map { .int($0) })),
                ("values", ModelFileJSON.nested(leaves, shape: t.shape)),
            ]
            if !nonFinite.isEmpty {
                members.append(("non_finite", .array(nonFinite.map { .array([.int($0.0), .string($0.1)]) })))
            }
            if let statistics { members.append(("stats", statistics.json)) }
            AnalysisIO.printJSON(.object(members))
        } else {
            var lines = ["\(TerminalText.escaped(t.name))  \(t.dtype) \(DisplayText.shape(t.shape))"]
            if let statistics { lines.append(InspectText.statsLine(statistics)) }
            let text = leaves.map { leaf -> String in
                switch leaf {
                case .float(let f): return f.description
                case .double(let d): return d.description
                case .int(let i): return String(i)
                case .uint(let u): return String(u)
                default: return "?"
                }
            }
            lines += InspectText.values(text, shape: t.shape, labels: nil)
            print(lines.joined(separator: "\n"))
        }
    }
}

/// `inspect --tree` as text: one line per subtree, box-drawing branches, with the counts.
enum TreeText {
    static func lines(_ tree: TensorTree, depth: Int?, path: String) -> [String] {
        var rows: [[String]] = []
        func label(_ node: TensorTree) -> [String] {
            let what: String
            if let t = node.tensor, node.children.isEmpty {
                what = "\(t.dtype) \(DisplayText.shape(t.shape))"
            } else {
                what = "\(node.tensorCount) tensor\(node.tensorCount == 1 ? "" : "s")"
            }
            return [what, "\(node.parameterCount)", "\(node.byteCount)"]
        }
        func walk(_ node: TensorTree, prefix: String, level: Int) {
            for (i, child) in node.children.enumerated() {
                let last = i == node.children.count - 1
                rows.append([prefix + (last ? "└── " : "├── ") + TerminalText.escaped(child.name)] + label(child))
                if depth.map({ level + 1 < $0 }) ?? true {
                    walk(child, prefix: prefix + (last ? "    " : "│   "), level: level + 1)
                }
            }
        }
        rows.append([TerminalText.escaped(path)] + label(tree))
        walk(tree, prefix: "", level: 0)
        return DisplayText.table([["name", "", "parameters", "bytes"]] + rows, rightAligned: [false, false, true, true])
    }
}
