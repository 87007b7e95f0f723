using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Inverted dropout (PyTorch's <c>nn.Dropout</c>): in training mode each element is zeroed with probability
/// <see cref="P"/> and the rest are scaled by 1 / (1 − p); in evaluation mode the input passes through unchanged.
/// </summary>
public sealed class Dropout : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="p">Probability of zeroing an element, in [0, 1]; default 0.5.</param>
    /// <param name="generator">Source of the masks; default (null) = <see cref="Init.DefaultGenerator"/> at each forward.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        F.CheckDropoutProbability(p);
        P = p;
        Generator = generator;
    }

    /// <summary>The probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>The generator of the masks given to the constructor (null: <see cref="Init.DefaultGenerator"/>); its
    /// state (<see cref="Generator.GetState"/>) is what a checkpoint saves so that a resumed run draws the same masks.</summary>
    public Generator? Generator { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Dropout(input, P, Training, Generator);

    /// <inheritdoc/>
    public override string ToString() => $"Dropout(p: {P})";
}
