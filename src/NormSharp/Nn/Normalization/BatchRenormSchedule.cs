namespace NormSharp.Nn;

/// <summary>
/// The relaxation schedule of Batch Renormalization's clipping bounds (Ioffe, 2017, section 4): plain batch norm
/// (rMax 1, dMax 0) for <see cref="WarmupSteps"/>, then rMax rising linearly to <see cref="FinalRMax"/> at
/// <see cref="RMaxEndStep"/> and dMax to <see cref="FinalDMax"/> at <see cref="DMaxEndStep"/>. The paper's values for
/// its ImageNet runs are the defaults: 5,000 steps of batch norm, rMax 3 at 40,000 steps, dMax 5 at 25,000 (it says the
/// bounds are relaxed "gradually"; the linear ramp is this helper's choice).
/// </summary>
/// <param name="WarmupSteps">Steps run as plain batch norm.</param>
/// <param name="RMaxEndStep">Step at which rMax reaches <paramref name="FinalRMax"/>.</param>
/// <param name="DMaxEndStep">Step at which dMax reaches <paramref name="FinalDMax"/>.</param>
/// <param name="FinalRMax">rMax after the ramp, at least 1.</param>
/// <param name="FinalDMax">dMax after the ramp, at least 0.</param>
public sealed record BatchRenormSchedule(long WarmupSteps = 5_000, long RMaxEndStep = 40_000, long DMaxEndStep = 25_000, double FinalRMax = 3.0, double FinalDMax = 5.0)
{
    /// <summary>rMax at <paramref name="step"/> (counted from 0).</summary>
    public double RMax(long step) => Ramp(step, RMaxEndStep, 1.0, FinalRMax);

    /// <summary>dMax at <paramref name="step"/> (counted from 0).</summary>
    public double DMax(long step) => Ramp(step, DMaxEndStep, 0.0, FinalDMax);

    /// <summary>Sets <see cref="BatchRenormBase.RMax"/> and <see cref="BatchRenormBase.DMax"/> of every BatchRenorm layer in <paramref name="model"/> for <paramref name="step"/>; call it before each training step.</summary>
    public void Apply(Module model, long step)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var layer in model.Modules().OfType<BatchRenormBase>())
        {
            layer.RMax = RMax(step);
            layer.DMax = DMax(step);
        }
    }

    private double Ramp(long step, long endStep, double start, double end)
    {
        if (step <= WarmupSteps)
        {
            return start;
        }
        if (step >= endStep)
        {
            return end;
        }
        return start + (end - start) * (step - WarmupSteps) / (endStep - WarmupSteps);
    }
}
