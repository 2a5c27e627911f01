namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>Whether a sockmap connection was steered to its route CPU with RFS, and why not when it was not.</summary>
/// <param name="IsSteered">True when both flows were recorded on the route CPU.</param>
/// <param name="Reason">Why the connection is not steered; null when it is.</param>
internal sealed record SteeringDecision(bool IsSteered, string? Reason)
{
    public static readonly SteeringDecision Steered = new(true, null);

    /// <summary>Before the route's first sockmap connection.</summary>
    public static readonly SteeringDecision NoConnectionYet = NotSteered("no sockmap connection yet");

    public static SteeringDecision NotSteered(string reason) => new(false, reason);

    /// <summary>The status text (logs, route status): <c>"rfs"</c> or <c>"none: reason"</c>.</summary>
    public override string ToString() => IsSteered ? "rfs" : "none: " + Reason;
}
