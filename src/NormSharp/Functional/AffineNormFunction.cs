using NormSharp.Autograd;

namespace NormSharp.Functional;

/// <summary>
/// A normalization op whose recorded inputs are the input and, when given, the affine weight (γ) and bias (β): the one
/// place that numbers them, for the forward's <see cref="RecordAffine"/> and the backward's <see cref="AffineGradients"/>.
/// </summary>
internal abstract class AffineNormFunction : Function
{
    private int weightIndex = -1, biasIndex = -1;

    /// <summary>Whether the weight was given and needs a gradient.</summary>
    protected bool NeedsWeightGrad => weightIndex >= 0 && NeedsInputGrad[weightIndex];

    /// <summary>Whether the bias was given and needs a gradient.</summary>
    protected bool NeedsBiasGrad => biasIndex >= 0 && NeedsInputGrad[biasIndex];

    /// <summary>Records <paramref name="output"/> with the inputs (input, weight when given, bias when given).</summary>
    protected Tensor RecordAffine(Tensor output, Tensor input, Tensor? weight, Tensor? bias)
    {
        var inputs = new List<Tensor>(3) { input };
        if (weight is not null)
        {
            weightIndex = inputs.Count;
            inputs.Add(weight);
        }
        if (bias is not null)
        {
            biasIndex = inputs.Count;
            inputs.Add(bias);
        }
        return Record(output, [.. inputs]);
    }

    /// <summary>The backward's result: each gradient in the slot of its recorded input.</summary>
    protected Tensor?[] AffineGradients(Tensor? gradInput, Tensor? gradWeight, Tensor? gradBias)
    {
        var gradients = new Tensor?[Inputs.Count];
        gradients[0] = gradInput;
        if (weightIndex >= 0)
        {
            gradients[weightIndex] = gradWeight;
        }
        if (biasIndex >= 0)
        {
            gradients[biasIndex] = gradBias;
        }
        return gradients;
    }
}
