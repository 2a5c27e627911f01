using BpfSteer.Internal;
using Microsoft.Extensions.Options;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Checks <see cref="SockmapForwarderOptions"/>. Every problem is reported at once, each naming the setting
/// (<c>BpfSteer:Forwarder:…</c>) and the bad value.
/// </summary>
internal sealed class SockmapForwarderOptionsValidator : IValidateOptions<SockmapForwarderOptions>
{
    /// <summary>The most connections the sockmap maps are sized for (each takes two entries per map).</summary>
    public const int MaxSockmapCapacity = 1 << 20;

    /// <summary>The smallest process budget: a few 64 KiB loopback segments in flight on each CPU, with room to spare.</summary>
    public const long MinKernelQueueBudget = 8L << 20;

    private static readonly TimeSpan MinRefreshInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxRefreshInterval = TimeSpan.FromHours(1);

    public ValidateOptionsResult Validate(string? name, SockmapForwarderOptions options)
    {
        var errors = Collect(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static List<string> Collect(SockmapForwarderOptions options)
    {
        const string prefix = SockmapForwarderOptions.SectionName + ":";
        var errors = new List<string>();
        if (options.SockmapCapacity is < 1 or > MaxSockmapCapacity)
        {
            errors.Add($"The value '{options.SockmapCapacity}' set in '{prefix}{nameof(options.SockmapCapacity)}' must be between 1 and {MaxSockmapCapacity}.");
        }
        if (options.KernelQueueBudget < MinKernelQueueBudget)
        {
            errors.Add($"The value '{options.KernelQueueBudget}' set in '{prefix}{nameof(options.KernelQueueBudget)}' is too small to work: it must be at least {MinKernelQueueBudget} bytes (8 MiB); a few loopback segments per CPU would use it up.");
        }
        if (options.PlacementHold < TimeSpan.Zero)
        {
            errors.Add($"The value '{options.PlacementHold}' set in '{prefix}{nameof(options.PlacementHold)}' must not be negative.");
        }
        if (options.IdleSpin < TimeSpan.Zero || options.IdleSpin > EventLoop.MaxIdleSpin)
        {
            errors.Add($"The value '{options.IdleSpin}' set in '{prefix}{nameof(options.IdleSpin)}' must be between 00:00:00 (off) and {EventLoop.MaxIdleSpin}.");
        }
        if (options.Steering is { } steering)
        {
            const string steeringPrefix = prefix + nameof(SockmapForwarderOptions.Steering) + ":";
            if (steering.SockFlowEntries <= 0)
            {
                errors.Add($"The value '{steering.SockFlowEntries}' set in '{steeringPrefix}{nameof(steering.SockFlowEntries)}' must be greater than 0.");
            }
            if (steering.FlowCountPerQueue <= 0)
            {
                errors.Add($"The value '{steering.FlowCountPerQueue}' set in '{steeringPrefix}{nameof(steering.FlowCountPerQueue)}' must be greater than 0.");
            }
            if (steering.RefreshInterval < MinRefreshInterval || steering.RefreshInterval > MaxRefreshInterval)
            {
                errors.Add($"The value '{steering.RefreshInterval}' set in '{steeringPrefix}{nameof(steering.RefreshInterval)}' must be between 10 ms and 1 hour.");
            }
        }
        return errors;
    }
}
