namespace NormSharp.Autograd;

/// <summary>Reverse-mode traversal of the tape: topological order from the root, gradients summed per tensor.</summary>
internal static class Engine
{
    /// <summary>Tensor.Backward: every leaf's gradient is accumulated into its <see cref="Tensor.Grad"/>.</summary>
    public static void Backward(Tensor root, Tensor? gradient)
    {
        gradient = CheckRoot(root, gradient, "Backward()");
        using var noGrad = new NoGrad();
        Propagate(root, gradient, static (leaf, g) => leaf.AccumulateGrad(g), visit: null);
    }

    /// <summary>
    /// Gradients.Of: the gradients of root with respect to <paramref name="inputs"/> (leaves or not), summed over
    /// every path and returned; no <see cref="Tensor.Grad"/> is touched.
    /// </summary>
    public static Tensor[] Gradients(Tensor root, IReadOnlyList<Tensor> inputs, Tensor? gradient)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var wanted = new Dictionary<Tensor, Tensor?>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i] ?? throw new ArgumentNullException(nameof(inputs), $"inputs[{i}] is null.");
            if (!input.RequiresGrad)
            {
                throw new ArgumentException(
                    $"inputs[{i}] (shape {ShapeUtil.Format(input.ShapeSpan)}) does not require gradients; set RequiresGrad on it before the forward pass.", nameof(inputs));
            }
            wanted[input] = null;
        }
        gradient = CheckRoot(root, gradient, "Gradients.Of");
        using var noGrad = new NoGrad();
        // Keeps g (returns true) when it is a gradient the caller asked for.
        bool Collect(Tensor tensor, Tensor g)
        {
            if (!wanted.TryGetValue(tensor, out var existing))
            {
                return false;
            }
            wanted[tensor] = existing is null ? g : Sum(existing, g);
            return true;
        }
        // Leaves receive one contribution per path; a non-leaf's gradient is complete when the traversal reaches it.
        Propagate(root, gradient, Collect, visit: Collect);
        var result = new Tensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            result[i] = wanted[inputs[i]] ?? throw new InvalidOperationException(
                $"inputs[{i}] (shape {ShapeUtil.Format(inputs[i].ShapeSpan)}) is not used in the graph that computed the output.");
        }
        return result;
    }

    private static Tensor CheckRoot(Tensor root, Tensor? gradient, string caller)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.ThrowIfDisposed();
        if (!root.RequiresGrad)
        {
            throw new InvalidOperationException(
                $"{caller} called on a tensor that does not require gradients and has no GradFn.");
        }
        if (gradient is null)
        {
            if (root.Length != 1)
            {
                throw new InvalidOperationException(
                    $"{caller} without a gradient is only defined for a one-element (scalar) output; got shape {ShapeUtil.Format(root.ShapeSpan)}. Pass a gradient of that shape.");
            }
            return Tensor.Ones(root.Shape);
        }
        if (!ShapeUtil.Equal(gradient.ShapeSpan, root.ShapeSpan))
        {
            throw new ArgumentException(
                $"Gradient shape {ShapeUtil.Format(gradient.ShapeSpan)} does not match output shape {ShapeUtil.Format(root.ShapeSpan)}.", nameof(gradient));
        }
        return gradient;
    }

    // Runs the tape backwards from root: each leaf contribution goes to `leaf` (one call per path), and `visit` (when
    // given) sees every non-leaf tensor with its complete gradient just before its function's backward runs; either
    // returns true when it keeps the gradient it was given.
    //
    // Memory: every gradient tensor the traversal holds is its own, and it disposes each one the moment it has been
    // consumed (a function's gradOutput once its backward has run, a leaf's contribution once accumulated, two
    // contributions once summed), so that a backward reuses its own memory at once instead of after the next garbage
    // collection. Tensors that others may hold (the caller's gradient, a function's inputs and saved tensors, one
    // gradient returned twice) travel as views of their own, whose disposal only gives up the view's claim.
    private static void Propagate(Tensor root, Tensor gradient, Func<Tensor, Tensor, bool> leaf, Func<Tensor, Tensor, bool>? visit)
    {
        gradient = gradient.Detach();
        if (root.GradFn is null)
        {
            Consume(leaf(root, gradient), gradient);
            return;
        }

        var order = TopologicalOrder(root);
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [root] = gradient };
        var returned = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var tensor in order)
        {
            if (!grads.Remove(tensor, out var gradOutput))
            {
                continue;
            }
            bool kept = visit?.Invoke(tensor, gradOutput) ?? false;
            var function = tensor.GradFn!;
            if (function.Released)
            {
                // PyTorch: "Trying to backward through the graph a second time".
                throw new InvalidOperationException(
                    $"Trying to backward through the graph a second time: {function.Name} already ran its backward and released what it kept for it. Run the forward again.");
            }
            var gradInputs = function.Backward(gradOutput);
            var inputs = function.Inputs;
            bool passedOn = kept;   // gradOutput itself can go on to one input, unless the caller keeps it
            returned.Clear();
            // First every gradient gets its own tensor (before routing may dispose one), then each is routed.
            for (int i = 0; i < inputs.Count; i++)
            {
                var g = gradInputs[i];
                if (g is null || !function.NeedsInputGrad[i])
                {
                    gradInputs[i] = null;
                    continue;
                }
                if (!ShapeUtil.Equal(g.ShapeSpan, inputs[i].ShapeSpan))
                {
                    throw new InvalidOperationException(
                        $"{function.Name}.Backward returned a gradient of shape {ShapeUtil.Format(g.ShapeSpan)} for an input of shape {ShapeUtil.Format(inputs[i].ShapeSpan)}.");
                }
                if (ReferenceEquals(g, gradOutput))
                {
                    gradInputs[i] = passedOn ? g.Detach() : g;
                    passedOn = true;
                }
                else if (!returned.Add(g) || function.Keeps(g))
                {
                    gradInputs[i] = g.Detach();
                }
            }
            for (int i = 0; i < inputs.Count; i++)
            {
                if (gradInputs[i] is not { } g)
                {
                    continue;
                }
                var input = inputs[i];
                if (input.GradFn is null)
                {
                    Consume(leaf(input, g), g);
                }
                else
                {
                    grads[input] = grads.Remove(input, out var existing) ? Sum(existing, g) : g;
                }
            }
            Consume(passedOn, gradOutput);
            function.ReleaseSaved();
        }
    }

    // Disposes a gradient the traversal no longer needs, unless it was kept (or passed on).
    private static void Consume(bool kept, Tensor gradient)
    {
        if (!kept)
        {
            gradient.Dispose();
        }
    }

    // a + b, both owned by the traversal: added in place into one that nobody else holds, the other disposed.
    private static Tensor Sum(Tensor a, Tensor b)
    {
        if (!StoragePool.IsExclusive(a.Storage))
        {
            (a, b) = (b, a);
        }
        var result = StoragePool.IsExclusive(a.Storage) ? a : a.Clone();
        Kernels.Elementwise.AddInPlace(b.Data, result.AsSpan());
        if (!ReferenceEquals(result, a))
        {
            a.Dispose();
        }
        b.Dispose();
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
