namespace NormSharp.Autograd;

/// <summary>
/// Gradients returned rather than accumulated (PyTorch's <c>torch.autograd.grad</c>): for a gradient penalty, for a
/// layer's gradients inside a larger computation, or to time a backward pass without the accumulation into
/// <see cref="Tensor.Grad"/> that <see cref="Tensor.Backward"/> does.
/// </summary>
public static class Gradients
{
    /// <summary>
    /// The gradients of <paramref name="output"/> with respect to each of <paramref name="inputs"/>, summed over every
    /// path through the graph, in the order given. No tensor's <see cref="Tensor.Grad"/> is read or changed, and, as
    /// with <see cref="Tensor.Backward"/>, the graph's saved tensors are released (it cannot be traversed twice).
    /// A returned tensor may share storage with <paramref name="gradOutput"/> (when the output is the input, or
    /// passes through an addition).
    /// </summary>
    /// <param name="output">The tensor to differentiate; it must require gradients.</param>
    /// <param name="inputs">Tensors that require gradients (leaves such as parameters, or intermediate results) and take part in computing <paramref name="output"/>.</param>
    /// <param name="gradOutput">The upstream gradient, shaped like <paramref name="output"/>; may be omitted only for a one-element output (then 1).</param>
    /// <exception cref="ArgumentException">An input does not require gradients, or <paramref name="gradOutput"/> has another shape.</exception>
    /// <exception cref="InvalidOperationException">An input is not used in computing the output, or the output does not require gradients.</exception>
    public static Tensor[] Of(Tensor output, IReadOnlyList<Tensor> inputs, Tensor? gradOutput = null) =>
        Engine.Gradients(output, inputs, gradOutput);
}
