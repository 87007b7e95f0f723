using NormSharp.Autograd;

namespace NormSharp.Bench;

/// <summary>
/// The NormSharp side's counterpart of the libtorch side's <c>torch.NewDisposeScope()</c>: what a timed call produces
/// is disposed at its end, so that both sides hand their memory back to their allocator right away.
/// </summary>
internal static class Release
{
    /// <summary>The gradients of <paramref name="output"/> with respect to <paramref name="inputs"/>; then disposes the output and the gradients.</summary>
    public static void ForwardBackward(Tensor output, IReadOnlyList<Tensor> inputs, Tensor gradOutput)
    {
        using (output)
        {
            foreach (var gradient in Gradients.Of(output, inputs, gradOutput))
            {
                gradient.Dispose();
            }
        }
    }
}
