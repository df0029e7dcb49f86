package dev.rca.autopilot.spring;

import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * {@code autopilot.enabled} is on: {@code true}, {@code 1}, {@code yes} or {@code on}, as the contract reads
 * {@code AUTOPILOT_ENABLED} in every language (a plain {@code @ConditionalOnProperty(havingValue = "true")} would
 * leave {@code AUTOPILOT_ENABLED=1} off here and on in the Python, Go and Node SDKs). Missing means off.
 */
class OnAutopilotEnabledCondition extends SpringBootCondition {
    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        return AutopilotSettingsBinder.enabled(context.getEnvironment())
                ? ConditionOutcome.match("autopilot.enabled is on")
                : ConditionOutcome.noMatch("autopilot.enabled is not on (missing or false)");
    }
}
