namespace NormSharp.Autograd;

/// <summary>Reverse-mode traversal of the tape: topological order from the root, gradients summed per tensor.</summary>
internal static class Engine
{
    public static void Backward(Tensor root, Tensor? gradient)
    {
        if (!root.RequiresGrad)
        {
            throw new InvalidOperationException(
                "Backward() called on a tensor that does not require gradients and has no GradFn.");
        }
        if (gradient is null)
        {
            if (root.Length != 1)
            {
                throw new InvalidOperationException(
                    $"Backward() without a gradient is only defined for a one-element (scalar) output; got shape {ShapeUtil.Format(root.ShapeSpan)}. Pass a gradient of that shape.");
            }
            gradient = Tensor.Ones(root.Shape);
        }
        else if (!ShapeUtil.Equal(gradient.ShapeSpan, root.ShapeSpan))
        {
            throw new ArgumentException(
                $"Gradient shape {ShapeUtil.Format(gradient.ShapeSpan)} does not match output shape {ShapeUtil.Format(root.ShapeSpan)}.", nameof(gradient));
        }

        using var noGrad = new NoGrad();
        if (root.GradFn is null)
        {
            root.AccumulateGrad(gradient);
            return;
        }

        var order = TopologicalOrder(root);
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [root] = gradient };
        foreach (var tensor in order)
        {
            if (!grads.Remove(tensor, out var gradOutput))
            {
                continue;
            }
            var function = tensor.GradFn!;
            var gradInputs = function.Backward(gradOutput);
            function.ReleaseSaved();
            var inputs = function.Inputs;
            for (int i = 0; i < inputs.Count; i++)
            {
                var input = inputs[i];
                var g = gradInputs[i];
                if (g is null || !function.NeedsInputGrad[i])
                {
                    continue;
                }
                if (!ShapeUtil.Equal(g.ShapeSpan, input.ShapeSpan))
                {
                    throw new InvalidOperationException(
                        $"{function.Name}.Backward returned a gradient of shape {ShapeUtil.Format(g.ShapeSpan)} for an input of shape {ShapeUtil.Format(input.ShapeSpan)}.");
                }
                if (input.GradFn is null)
                {
                    input.AccumulateGrad(g);
                }
                else if (grads.TryGetValue(input, out var existing))
                {
                    grads[input] = Sum(existing, g);
                }
                else
                {
                    grads[input] = g;
                }
            }
        }
    }

    private static Tensor Sum(Tensor a, Tensor b)
    {
        var result = a.Clone();
        Kernels.Elementwise.AddInPlace(b.Data, result.AsSpan());
        return result;
    }

    /// <summary>Non-leaf tensors reachable from the root, each after every tensor that consumes it.</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var postOrder = new List<Tensor>();
        // Iterative DFS: deep graphs (long sequences of ops) must not overflow the stack.
        var stack = new Stack<(Tensor Tensor, int NextInput)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (tensor, next) = stack.Pop();
            var inputs = tensor.GradFn!.Inputs;
            if (next < inputs.Count)
            {
                stack.Push((tensor, next + 1));
                var input = inputs[next];
                if (input.GradFn is not null && visited.Add(input))
                {
                    stack.Push((input, 0));
                }
            }
            else
            {
                postOrder.Add(tensor);
            }
        }
        postOrder.Reverse();
        return postOrder;
    }
}
