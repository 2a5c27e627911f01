using BpfSteer.Interop;
using BpfSteer.Internal;
using Microsoft.Extensions.Options;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// Checks <see cref="BpfSteerTransportOptions"/> and resolves the worker CPUs. Every problem is reported at once,
/// each naming the setting (<c>BpfSteer:Transport:…</c>) and the bad value.
/// </summary>
internal sealed class BpfSteerTransportOptionsValidator : IValidateOptions<BpfSteerTransportOptions>
{
    public ValidateOptionsResult Validate(string? name, BpfSteerTransportOptions options)
    {
        var errors = Collect(options, CpuAffinity.GetCurrentThreadAffinity());
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The worker CPUs in group order; throws <see cref="OptionsValidationException"/> for bad options.</summary>
    public static int[] ResolveCpus(BpfSteerTransportOptions options)
    {
        var allowed = CpuAffinity.GetCurrentThreadAffinity();
        var errors = Collect(options, allowed);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(BpfSteerTransportOptions), errors);
        }
        return options.Cpus is { Count: > 0 } cpus ? cpus.ToArray() : allowed;
    }

    internal static List<string> Collect(BpfSteerTransportOptions options, int[] allowed)
    {
        const string prefix = BpfSteerTransportOptions.SectionName + ":";
        var errors = new List<string>();
        if (options.Cpus is { } cpus)
        {
            if (cpus.Count > ReuseportCpuProgram.MaxWorkers)
            {
                errors.Add($"'{prefix}Cpus' lists {cpus.Count} CPUs; a reuseport group holds at most {ReuseportCpuProgram.MaxWorkers} workers.");
            }
            foreach (var cpu in cpus.Where(c => !allowed.Contains(c)).Distinct())
            {
                errors.Add($"The CPU '{cpu}' set in '{prefix}Cpus' is not in the process affinity mask [{string.Join(",", allowed)}].");
            }
            foreach (var cpu in cpus.GroupBy(c => c).Where(g => g.Count() > 1).Select(g => g.Key))
            {
                errors.Add($"The CPU '{cpu}' appears more than once in '{prefix}Cpus'; each worker needs its own CPU.");
            }
        }
        if (!Enum.IsDefined(options.Selector))
        {
            errors.Add($"The value '{options.Selector}' set in '{prefix}Selector' is not one of {string.Join(", ", Enum.GetNames<ReuseportSelector>())}.");
        }
        if (!Enum.IsDefined(options.ApplicationScheduling))
        {
            errors.Add($"The value '{options.ApplicationScheduling}' set in '{prefix}ApplicationScheduling' is not one of {string.Join(", ", Enum.GetNames<ApplicationScheduling>())}.");
        }
        if (options.Backlog <= 0)
        {
            errors.Add($"The value '{options.Backlog}' set in '{prefix}Backlog' must be greater than 0.");
        }
        if (options.MaxReadBufferSize < 0)
        {
            errors.Add($"The value '{options.MaxReadBufferSize}' set in '{prefix}MaxReadBufferSize' must be 0 (no limit) or more.");
        }
        if (options.MaxWriteBufferSize < 0)
        {
            errors.Add($"The value '{options.MaxWriteBufferSize}' set in '{prefix}MaxWriteBufferSize' must be 0 (no limit) or more.");
        }
        if (options.IdleSpin < TimeSpan.Zero || options.IdleSpin > EventLoop.MaxIdleSpin)
        {
            errors.Add($"The value '{options.IdleSpin}' set in '{prefix}IdleSpin' must be between 00:00:00 (off) and {EventLoop.MaxIdleSpin}.");
        }
        return errors;
    }
}
