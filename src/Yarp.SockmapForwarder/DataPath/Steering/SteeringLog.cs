using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>Log messages of the RFS steering (event ids 4150-4159).</summary>
internal static partial class SteeringLog
{
    [LoggerMessage(4150, LogLevel.Information, "Route '{RouteId}' (CPU {Cpu}): sockmap steering is {Steering}.")]
    public static partial void Decision(ILogger logger, string routeId, string cpu, string steering);

    [LoggerMessage(4151, LogLevel.Warning, "RFS was configured by the forwarder on '{Interface}' ({Detail}); the previous values are restored on dispose.")]
    public static partial void Configured(ILogger logger, string @interface, string detail);

    [LoggerMessage(4152, LogLevel.Information, "RFS steering is not possible on '{Interface}': {Reason}.")]
    public static partial void Unavailable(ILogger logger, string @interface, string reason);
}
