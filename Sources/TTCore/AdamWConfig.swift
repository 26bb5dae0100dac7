/// Learning-rate schedule.
public enum LRSchedule: String, CaseIterable, Sendable {
    /// `learningRate` at every step (after any warmup).
    case constant
    /// Linear warmup over `warmupSteps`, then cosine decay from `learningRate` down to
    /// `learningRate · minLRRatio` at step `decaySteps`, flat after it.
    case cosine
}

/// AdamW hyperparameters, as the series' notebook 10 applies them:
/// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; m̂ = m/(1−β1^t); v̂ = v/(1−β2^t);
/// θ ← θ·(1 − lr·wd) − lr·m̂/(√v̂ + ε). Every field is recorded in the checkpoint.
public struct AdamWConfig: Equatable, Sendable {
    public var learningRate: Double = 1e-3
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public var weightDecay: Double = 0.01
    /// When true, biases and LayerNorm γ/β get no weight decay.
    public var exemptNormAndBias: Bool = false
    /// Clip the gradient to this global ℓ2 norm; 0 means no clipping.
    public var gradClip: Double = 0
    public var schedule: LRSchedule = .constant
    /// Linear warmup from lr/warmupSteps to lr over the first `warmupSteps` steps (0: none).
    public var warmupSteps: Int = 0
    /// The step at which cosine decay reaches its floor (cosine only).
    public var decaySteps: Int = 0
    /// The cosine floor as a fraction of `learningRate`.
    public var minLRRatio: Double = 0.1

    public init() {}

    /// The learning rate used for optimizer step `t` (1-based).
    public func learningRate(atStep t: Int) -> Double {
        if warmupSteps > 0 && t <= warmupSteps {
            return learningRate * Double(t) / Double(warmupSteps)
        }
        switch schedule {
        case .constant:
            return learningRate
        case .cosine:
            let span = decaySteps - warmupSteps
            guard span > 0 else { return learningRate }
            let progress = min(1.0, Double(t - warmupSteps) / Double(span))
            let floor = learningRate * minLRRatio
            return floor + (learningRate - floor) * 0.5 * (1 + cos(Double.pi * progress))
        }
    }

    /// Checks ranges; throws `ConfigError` naming the field as the spec's `optim.*` metadata
    /// key does (`lr`, `weight_decay`, ...).
    public func validate() throws {
        func fail(_ field: String, _ message: String) -> ConfigError { ConfigError(field: field, message: message) }
        guard learningRate.isFinite, learningRate > 0, learningRate <= 10 else { throw fail("lr", "must be in (0, 10], got \(learningRate)") }
        guard beta1.isFinite, (0..<1).contains(beta1) else { throw fail("beta1", "must be in [0, 1), got \(beta1)") }
        guard beta2.isFinite, (0..<1).contains(beta2) else { throw fail("beta2", "must be in [0, 1), got \(beta2)") }
        guard epsilon.isFinite, epsilon > 0, epsilon < 1 else { throw fail("epsilon", "must be in (0, 1), got \(epsilon)") }
        guard weightDecay.isFinite, weightDecay >= 0, learningRate * weightDecay < 1 else {
            throw fail("weight_decay", "must be ≥ 0 with lr·wd < 1, got \(weightDecay)")
        }
        guard gradClip.isFinite, gradClip >= 0 else { throw fail("grad_clip", "must be ≥ 0 (0 = off), got \(gradClip)") }
        guard warmupSteps >= 0 else { throw fail("warmup_steps", "must be ≥ 0, got \(warmupSteps)") }
        guard decaySteps >= 0 else { throw fail("decay_steps", "must be ≥ 0, got \(decaySteps)") }
        guard minLRRatio.isFinite, (0...1).contains(minLRRatio) else { throw fail("min_lr_ratio", "must be in [0, 1], got \(minLRRatio)") }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
