namespace NormSharp.Autograd;

/// <summary>Whether operations are recorded for autograd on the current thread.</summary>
public static class GradMode
{
    [ThreadStatic]
    private static int disabledDepth;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope on this thread.</summary>
    public static bool IsEnabled => disabledDepth == 0;

    internal static void Disable() => disabledDepth++;

    internal static void Restore() => disabledDepth--;
}

/// <summary>
/// A scope in which no operation is recorded for autograd (PyTorch's <c>torch.no_grad()</c>):
/// <c>using (new NoGrad()) { ... }</c>. Use it for evaluation and for optimizer updates.
/// </summary>
public sealed class NoGrad : IDisposable
{
    private bool disposed;

    /// <summary>Enters the scope.</summary>
    public NoGrad() => GradMode.Disable();

    /// <summary>Leaves the scope.</summary>
    public void Dispose()
    {
        if (!disposed)
        {
            disposed = true;
            GradMode.Restore();
        }
    }
}
